"""The reopen experiment: real sender MTAs queue mail during an outage, then the receiver reopens.

`mailstorm herd model` predicts the herd from retry schedules; this measures it. For each
reopening policy (`open`, `admission`) the run starts its own receiver and its own sender
containers (N Postfix + M Exim at time scale k), so the policies cannot couple through an MTA's
per-destination state, and runs them side by side on one clock: the outage starts for all at
once, messages are injected at a steady rate into every sender during it, the receiver fails
(`4xx`, `refused` or `blackhole`), then reopens by its policy at the same instant. The run
ends when every policy has delivered every message (and a settle time has passed, for late
duplicates) or when the observation time after the reopening is up.

Wall time is about (outage + drain) / k plus ~30 s of container starts: at k = 60 a 2-hour
outage is 2 minutes, and the drain (at most `observe`, 3 real hours by default) 3 minutes more
at worst. Both policies run at once, so comparing them costs nothing extra but containers.

Everything is measured from the receivers' journals (`harness.herd.reopen.measure`) in real
MTA seconds relative to the reopening; the senders' queues are read at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.containers import bridge_gateway, docker_client
from harness.containers.resource_usage import ResourceMonitor
from harness.errors import HerdError
from harness.herd.model.sender_classes import SenderClass
from harness.herd.reopen.machine import MachineLoad, machine_load
from harness.herd.reopen.measure import Injected, Measurement, RunEvidence, measure
from harness.herd.reopen.model import sender_classes
from harness.herd.reopen.plan import OutageVariant, Policy, receiver_schedule
from harness.herd.reopen.senders import Sender, SenderFleet, SenderMix, SenderSpec
from harness.receiver import ACCEPT_ALL, Receiver
from harness.targets import BOUNCE_DOMAIN, Hop, RouteTable

#: The test domain the senders deliver to (routed to each policy's receiver, no DNS).
DOMAIN = "reopen.mailstorm.test"
#: Wall seconds between two looks at the journals.
POLL_INTERVAL = 0.5
#: Wall seconds between progress lines.
HEARTBEAT = 15.0
#: Parallel submissions (each is a `docker exec`).
SUBMIT_WORKERS = 4


class ReopenError(HerdError):
    """A reopen experiment cannot run as asked (bad outage, scale, capacity, counts)."""


@dataclass(frozen=True)
class ReopenExperiment:
    """What to run. Durations are real MTA seconds; the run divides them by `time_scale`."""

    senders: SenderMix
    work_dir: Path
    outage: float = 2 * 3600.0
    variant: OutageVariant = OutageVariant.REPLY_4XX
    time_scale: float = 60.0
    #: every sender on its stock configuration under a clock k times faster (else the MTAs
    #: that can be are configured with their settings divided by k; warp-only ones warp)
    clock_warp: bool = False
    #: the model's class per MTA where a measured one is given (else its documented default)
    model_classes: tuple[SenderClass, ...] = ()
    capacity: int = 2  #: the admission policy's C: 421 at the greeting above C sessions
    policies: tuple[Policy, ...] = (Policy.OPEN, Policy.ADMISSION)
    messages_per_sender: int = 20  #: injected into each sender, evenly over the outage
    observe: float = 3 * 3600.0  #: at most this long after the reopening
    settle: float = 600.0  #: kept observing after the last message arrived (late duplicates)
    bin_seconds: float = 300.0  #: width of the measured curves' bins
    progress: Callable[[str], None] = field(default=lambda line: None, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if not (self.outage > 0 and math.isfinite(self.outage)):
            problems.append(f"the outage must be > 0, got {self.outage:g}s")
        if not (self.time_scale > 0 and math.isfinite(self.time_scale)):
            problems.append(f"the time scale must be > 0, got {self.time_scale:g}")
        if self.capacity < 1:
            problems.append(f"the capacity must be >= 1 session, got {self.capacity}")
        if not self.policies:
            problems.append("name at least one policy")
        if len(set(self.policies)) != len(self.policies):
            problems.append("each policy may be named once")
        if self.messages_per_sender < 1:
            problems.append(f"inject at least 1 message per sender, got {self.messages_per_sender}")
        if not (self.observe > 0 and self.bin_seconds > 0 and self.settle >= 0):
            problems.append("observe and bin must be > 0, settle >= 0")
        try:
            sender_classes(self.senders, self.model_classes)
        except HerdError as error:
            problems.append(str(error))
        if problems:
            raise ReopenError("; ".join(problems))

    @property
    def longest_wall_seconds(self) -> float:
        """The most the observation can take on the wall clock (container starts not counted)."""
        return (self.outage + self.observe) / self.time_scale


@dataclass(frozen=True)
class SenderInfo:
    """One sender container as the report names it."""

    label: str
    mta: str
    version: str
    address: str
    distorted: tuple[str, ...]  #: scaled parameters off their real value, with the factor
    ready_before_outage: float = 0.0  #: real seconds between its MTA being ready and the outage


@dataclass(frozen=True)
class PolicyResult:
    """One policy's measured herd and the senders that produced it."""

    policy: Policy
    plan: str  #: the receiver plan's description
    senders: tuple[SenderInfo, ...]
    measurement: Measurement


@dataclass(frozen=True)
class ReopenResults:
    """Everything a reopen report shows, but the model's prediction (added by the report)."""

    experiment: ReopenExperiment
    policies: tuple[PolicyResult, ...]
    wall_seconds: float
    targets: dict[str, dict[str, Any]]  #: MTA -> version and scaled parameters
    machine: MachineLoad | None = None  #: what the sender containers cost the machine


@dataclass
class _PolicyRun:
    policy: Policy
    receiver: Receiver
    senders: list[Sender] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)
    drained_at: float | None = None  #: monotonic time every message had arrived


@dataclass(frozen=True)
class _Due:
    offset: float  #: wall seconds after the outage started
    position: int  #: index of the sender in each policy's list
    number: int  #: the message's number in its sender


def run_reopen(exp: ReopenExperiment) -> ReopenResults:
    """Run every policy at once and measure them; containers and receivers are gone after."""
    started = time.monotonic()
    exp.work_dir.mkdir(parents=True, exist_ok=True)
    client = docker_client()
    try:
        gateway = bridge_gateway(client)
    finally:
        client.close()
    with ExitStack() as stack:
        bounces = stack.enter_context(
            Receiver(
                ACCEPT_ALL,
                listen=[f"{gateway}:0"],
                journal=exp.work_dir / "bounces.sqlite",
                time_scale=exp.time_scale,
                overwrite_journal=True,
            )
        )
        runs = [_policy_run(stack, exp, policy, gateway) for policy in exp.policies]
        specs = [
            SenderSpec(f"{run.policy.value}/{label}", mta, _routes(run.receiver, bounces))
            for run in runs
            for label, mta in exp.senders.labels()
        ]
        exp.progress(
            f"starting {len(specs)} sender containers ({exp.senders} per policy, "
            f"time scale {exp.time_scale:g})"
        )
        fleet = stack.enter_context(
            SenderFleet(
                specs,
                time_scale=exp.time_scale,
                clock_warp=exp.clock_warp,
                progress=exp.progress,
            )
        )
        for run in runs:
            prefix = f"{run.policy.value}/"
            run.senders = [s for s in fleet.senders if s.label.startswith(prefix)]
        monitor = stack.enter_context(
            ResourceMonitor(
                {s.label: s.target.container.get_wrapped_container() for s in fleet.senders}
            )
        )
        reopen, end = _observe(exp, runs)
        monitor.stop()  # before the containers go: the last sample is the state after the run
        outage_start = reopen - exp.outage / exp.time_scale
        machine = machine_load(
            monitor.usage,
            mtas={s.label: s.target.name for s in fleet.senders},
            ready={s.label: sum(s.target.timings.values()) for s in fleet.senders},
            outage=(outage_start, reopen),
            herd=(reopen, end),
        )
        queued = {run.policy: _still_queued(run) for run in runs}
        targets = {s.target.name: s.target.describe() for s in fleet.senders}
        senders = {
            run.policy: tuple(
                _sender_info(s, (outage_start - s.ready_mono) * exp.time_scale) for s in run.senders
            )
            for run in runs
        }
    results = []
    for run in runs:
        evidence = RunEvidence(
            journal=run.receiver.journal_path,
            time_scale=exp.time_scale,
            outage=exp.outage,
            reopen_mono=reopen,
            end_mono=end,
            senders={s.address: _short(s.label) for s in run.senders},
            mtas={_short(s.label): s.target.name for s in run.senders},
            injected=[
                Injected(i.message_id, _short(i.sender), (i.t - reopen) * exp.time_scale)
                for i in run.injected
            ],
            still_queued=queued[run.policy],
        )
        results.append(
            PolicyResult(
                policy=run.policy,
                plan=run.receiver.plan.description,
                senders=senders[run.policy],
                measurement=measure(evidence, bin_seconds=exp.bin_seconds),
            )
        )
    return ReopenResults(exp, tuple(results), time.monotonic() - started, targets, machine)


def _policy_run(
    stack: ExitStack, exp: ReopenExperiment, policy: Policy, gateway: str
) -> _PolicyRun:
    schedule = receiver_schedule(exp.variant, policy, outage=exp.outage, capacity=exp.capacity)
    receiver = stack.enter_context(
        Receiver(
            schedule.plan,
            listen=[f"{gateway}:0"],
            journal=exp.work_dir / f"reopen-{policy.value}.sqlite",
            time_scale=exp.time_scale,
            refuse_until=schedule.refuse_until,
            overwrite_journal=True,
        )
    )
    return _PolicyRun(policy, receiver)


def _routes(receiver: Receiver, bounces: Receiver) -> RouteTable:
    return RouteTable.of(
        {
            DOMAIN: [Hop(receiver.host, receiver.port)],
            BOUNCE_DOMAIN: [Hop(bounces.host, bounces.port)],
        }
    )


def injection_schedule(senders: int, messages: int, outage_wall: float) -> list[_Due]:
    """Every sender gets `messages` evenly over the outage, the senders staggered within each
    step, so the offered rate is steady: one message every outage / (senders x messages)."""
    step = outage_wall / messages
    due = [
        _Due((number + position / senders) * step, position, number)
        for number in range(messages)
        for position in range(senders)
    ]
    return sorted(due, key=lambda d: d.offset)


def _observe(exp: ReopenExperiment, runs: Sequence[_PolicyRun]) -> tuple[float, float]:
    """Start the outage, inject on schedule, and watch until drained or out of time.

    Returns the monotonic times of the reopening and of the end.
    """
    k = exp.time_scale
    schedule = injection_schedule(exp.senders.total, exp.messages_per_sender, exp.outage / k)
    for run in runs:
        run.receiver.reset()  # the plan's clock (outage, refusal window) starts now
    start = time.monotonic()
    reopen = start + exp.outage / k
    deadline = reopen + exp.observe / k
    settle = exp.settle / k
    exp.progress(
        f"outage ({exp.variant.value}) for {exp.outage / 3600:g} h real = {exp.outage / k:.0f}s "
        f"wall; observing at most {exp.observe / 3600:g} h after reopening"
    )
    next_heartbeat = start + HEARTBEAT
    with ThreadPoolExecutor(SUBMIT_WORKERS, thread_name_prefix="mailstorm-submit") as pool:
        while True:
            now = time.monotonic()
            due = [d for d in schedule if d.offset <= now - start]
            schedule = schedule[len(due) :]
            if due:
                _inject(pool, runs, due)
            if not schedule and now >= reopen:
                for run in runs:
                    if run.drained_at is None and _drained(run):
                        run.drained_at = now
                        exp.progress(
                            f"{run.policy.value}: every message delivered "
                            f"{(now - reopen) * k / 60:.0f} min after reopening"
                        )
                if all(r.drained_at is not None and now - r.drained_at >= settle for r in runs):
                    break
            if now >= deadline:
                exp.progress("observation time is up")
                break
            if now >= next_heartbeat:
                next_heartbeat = now + HEARTBEAT
                exp.progress(_heartbeat(runs, now, start, reopen, k))
            time.sleep(POLL_INTERVAL)
    return reopen, time.monotonic()


def _inject(pool: ThreadPoolExecutor, runs: Sequence[_PolicyRun], due: Sequence[_Due]) -> None:
    jobs = [(run, run.senders[d.position], d.number) for d in due for run in runs]

    def submit(job: tuple[_PolicyRun, Sender, int]) -> tuple[_PolicyRun, Injected]:
        run, sender, number = job
        sent = sender.target.submit(
            [f"user{number}@{DOMAIN}"], subject=f"mailstorm reopen {sender.label} #{number}"
        )
        return run, Injected(sent.message_id, sender.label, sent.mono)

    for run, injected in pool.map(submit, jobs):
        run.injected.append(injected)


def _accepted_ids(run: _PolicyRun) -> set[str]:
    with run.receiver.journal() as journal:
        return {m.message_id for m in journal.messages() if m.message_id and not m.is_dsn}


def _drained(run: _PolicyRun) -> bool:
    return {i.message_id for i in run.injected} <= _accepted_ids(run)


def _heartbeat(
    runs: Sequence[_PolicyRun], now: float, start: float, reopen: float, k: float
) -> str:
    when = (
        f"outage, {(reopen - now) * k / 60:.0f} min to reopening"
        if now < reopen
        else f"{(now - reopen) * k / 60:.0f} min after reopening"
    )
    states = ", ".join(
        f"{run.policy.value} {len(_accepted_ids(run) & {i.message_id for i in run.injected})}"
        f"/{len(run.injected)} delivered"
        for run in runs
    )
    return f"[{now - start:.0f}s] {when}: {states}"


def _still_queued(run: _PolicyRun) -> frozenset[str]:
    return frozenset(
        message.message_id
        for sender in run.senders
        for message in sender.target.queue()
        if message.message_id
    )


def _sender_info(sender: Sender, ready_before_outage: float) -> SenderInfo:
    target = sender.target
    return SenderInfo(
        ready_before_outage=ready_before_outage,
        label=_short(sender.label),
        mta=target.name,
        version=target.version,
        address=sender.address,
        distorted=tuple(f"{p.name} x{p.distortion:.3g}" for p in target.scaling.distorted()),
    )


def _short(label: str) -> str:
    """`open/postfix-1` -> `postfix-1`: the policy is said once, by the result it belongs to."""
    return label.partition("/")[2] or label
