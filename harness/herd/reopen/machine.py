"""What the machine held during a reopen experiment, and how many senders it could hold.

The experiment samples every sender container (harness.containers.resource_usage); this turns
the samples into what a reader needs to size a bigger run: per MTA, memory per container (its
peak) and the CPU a container burns while it only queues (the outage) and while it delivers
(after the reopening); for the host, its busy share in both phases. Two bounds follow, each
with its arithmetic shown in the report:

- by memory: the memory available when the run started over the mix's mean peak per
  container;
- by CPU: how many containers of this mix would keep half of the cores busy just queueing
  (the outage's rate per container). Half, not all: the receiver, the harness and the
  engine share the cores, and a warped or compressed clock turns CPU contention into
  measurement error (see README, "what moves between full runs").

The CPU bound is the tighter one on a small machine, and it is an extrapolation from N
containers to more, which the report says.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.containers.resource_usage import ResourceUsage

#: The share of all cores the senders may take while queueing (see the module docstring).
CPU_BUDGET = 0.5


@dataclass(frozen=True)
class MtaCost:
    """What one MTA's containers cost, per container."""

    mta: str
    containers: int
    sampled: int  #: containers with enough samples to count
    peak_memory: float | None  #: bytes, mean over containers of each one's peak
    max_memory: int | None  #: bytes, the largest single peak
    outage_cpu: float | None  #: share of one core, mean per container during the outage
    herd_cpu: float | None  #: share of one core, mean per container after the reopening
    ready_seconds: float | None  #: mean wall seconds from start to ready


@dataclass(frozen=True)
class MachineLoad:
    """The run's resource summary and the capacity bounds drawn from it."""

    cores: int
    memory_total: int | None
    memory_available: int | None  #: when the run started
    containers: int
    costs: tuple[MtaCost, ...]
    host_busy_outage: tuple[float, float] | None  #: (mean, peak) share of all cores
    host_busy_herd: tuple[float, float] | None
    memory_bound: int | None  #: containers of this mix that fit in the available memory
    cpu_bound: int | None  #: containers of this mix that keep CPU_BUDGET of the cores busy
    samples: int  #: container samples taken in all


def machine_load(
    usage: ResourceUsage,
    *,
    mtas: Mapping[str, str],
    ready: Mapping[str, float],
    outage: tuple[float, float],
    herd: tuple[float, float],
) -> MachineLoad:
    """Summarise `usage` for the containers `mtas` (label -> MTA), with their `ready` times
    (label -> wall seconds), over the `outage` and `herd` phases (monotonic start, end)."""
    costs = []
    for mta in dict.fromkeys(mtas.values()):
        labels = [label for label, name in mtas.items() if name == mta]
        costs.append(_mta_cost(usage, mta, labels, ready, outage, herd))
    total = len(mtas)
    peaks = [p for label in mtas if (p := usage.peak_memory(label)) is not None]
    memory_bound = None
    if peaks and usage.memory is not None:
        memory_bound = int(usage.memory.available / statistics.fmean(peaks))
    outage_shares = [c.outage_cpu * c.containers for c in costs if c.outage_cpu is not None]
    cpu_bound = None
    if outage_shares and len(outage_shares) == len(costs) and sum(outage_shares) > 0:
        per_container = sum(outage_shares) / total  # of one core
        cpu_bound = int(CPU_BUDGET * usage.cores / per_container)
    return MachineLoad(
        cores=usage.cores,
        memory_total=usage.memory.total if usage.memory else None,
        memory_available=usage.memory.available if usage.memory else None,
        containers=total,
        costs=tuple(costs),
        host_busy_outage=_mean_peak(usage.host_busy(*outage)),
        host_busy_herd=_mean_peak(usage.host_busy(*herd)),
        memory_bound=memory_bound,
        cpu_bound=cpu_bound,
        samples=sum(len(samples) for samples in usage.containers.values()),
    )


def _mta_cost(
    usage: ResourceUsage,
    mta: str,
    labels: Sequence[str],
    ready: Mapping[str, float],
    outage: tuple[float, float],
    herd: tuple[float, float],
) -> MtaCost:
    peaks = [p for label in labels if (p := usage.peak_memory(label)) is not None]
    return MtaCost(
        mta=mta,
        containers=len(labels),
        sampled=len(peaks),
        peak_memory=statistics.fmean(peaks) if peaks else None,
        max_memory=max(peaks, default=None),
        outage_cpu=_cpu_share(usage, labels, outage),
        herd_cpu=_cpu_share(usage, labels, herd),
        ready_seconds=statistics.fmean([ready[label] for label in labels if label in ready])
        if any(label in ready for label in labels)
        else None,
    )


def _cpu_share(
    usage: ResourceUsage, labels: Sequence[str], phase: tuple[float, float]
) -> float | None:
    """Mean over containers of CPU seconds per wall second in the phase (share of one core)."""
    shares = []
    for label in labels:
        used = usage.cpu_between(label, *phase)
        span = usage.span_between(label, *phase)
        if used is not None and span:
            shares.append(used / span)
    return statistics.fmean(shares) if shares else None


def _mean_peak(values: Sequence[float]) -> tuple[float, float] | None:
    return (statistics.fmean(values), max(values)) if values else None
