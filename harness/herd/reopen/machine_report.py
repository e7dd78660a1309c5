"""The reopen report's section on what the machine held (harness.herd.reopen.machine)."""

from __future__ import annotations

from typing import Any

from harness.herd.reopen.machine import CPU_BUDGET, MachineLoad

MIB = 1024 * 1024


def machine_json(load: MachineLoad | None) -> dict[str, Any] | None:
    if load is None:
        return None
    return {
        "cores": load.cores,
        "memory_total_bytes": load.memory_total,
        "memory_available_bytes": load.memory_available,
        "containers": load.containers,
        "samples": load.samples,
        "host_busy_outage": _pair(load.host_busy_outage),
        "host_busy_herd": _pair(load.host_busy_herd),
        "memory_bound_containers": load.memory_bound,
        "cpu_bound_containers": load.cpu_bound,
        "cpu_budget": CPU_BUDGET,
        "per_mta": [
            {
                "mta": c.mta,
                "containers": c.containers,
                "sampled": c.sampled,
                "peak_memory_bytes_mean": _int(c.peak_memory),
                "peak_memory_bytes_max": c.max_memory,
                "cpu_share_of_a_core_outage": _round(c.outage_cpu),
                "cpu_share_of_a_core_herd": _round(c.herd_cpu),
                "ready_seconds_mean": _round(c.ready_seconds, 1),
            }
            for c in load.costs
        ],
    }


def machine_markdown(load: MachineLoad | None) -> list[str]:
    if load is None:
        return []
    lines = [
        "## What the machine held",
        "",
        f"{load.containers} sender containers on {load.cores} cores"
        + (
            f" and {load.memory_total / 2**30:.1f} GiB "
            f"({load.memory_available / 2**30:.1f} GiB available at the start)"
            if load.memory_total and load.memory_available
            else ""
        )
        + f", sampled {load.samples} times in all (memory less droppable page cache, as "
        "`docker stats` shows it; CPU from the container's cgroup).",
        "",
        "| MTA | containers | memory per container (mean of peaks) | largest peak | "
        "CPU per container, outage | CPU per container, after reopening | ready in |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {c.mta} | {c.containers} | {_mib(c.peak_memory)} | {_mib(c.max_memory)} | "
            f"{_percent(c.outage_cpu)} | {_percent(c.herd_cpu)} | "
            + (f"{c.ready_seconds:.1f} s" if c.ready_seconds is not None else "-")
            + " |"
            for c in load.costs
        ),
        "",
        f"- Host CPU busy (all {load.cores} cores): outage {_busy(load.host_busy_outage)}; "
        f"after reopening {_busy(load.host_busy_herd)}.",
    ]
    if load.memory_bound is not None:
        lines.append(
            f"- **By memory** this machine holds about **{load.memory_bound}** containers of "
            "this mix (available memory at the start over the mean peak per container)."
        )
    if load.cpu_bound is not None:
        lines.append(
            f"- **By CPU** about **{load.cpu_bound}**: the containers of this mix that would "
            f"keep {CPU_BUDGET:.0%} of the cores busy only queueing, at the outage's rate per "
            "container. This extrapolates from the containers measured to more, linearly; "
            "the other half is for the receiver, the harness and the engine, and CPU "
            "contention turns a compressed clock into timing error."
        )
    lines.append("")
    return lines


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f} MiB"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}% of a core"


def _busy(pair: tuple[float, float] | None) -> str:
    return "not sampled" if pair is None else f"mean {pair[0]:.0%}, peak {pair[1]:.0%}"


def _pair(pair: tuple[float, float] | None) -> dict[str, float] | None:
    return None if pair is None else {"mean": round(pair[0], 4), "peak": round(pair[1], 4)}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
