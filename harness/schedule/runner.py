"""Measuring schedules: one case per (target, variant, compression), all at once.

It runs its cases through the case engine (`harness.cases`): a container per (target, compression),
since a target's clock is fixed when it starts, with one receiver per variant in it. A
compression is a time scale k applied either to the MTA's settings (scaled config) or to its
clock (clock warp: stock settings, `harness/targets/clock_warp.py`). All run concurrently, so
validating one against the other costs one run, as long as the slowest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.cases import (
    Group,
    ObservedCase,
    give_up_window,
    observe_groups,
    retry_window,
    sharing_sets,
)
from harness.conformance import CheckInput, run_checks
from harness.errors import MailstormError
from harness.ledger import CaseEvidence, refused_attempts
from harness.ledger.clock_check import target_warp_uncertainty, unseen_attempts
from harness.results import (
    Agreement,
    Attempt,
    MeasuredSchedule,
    Method,
    Schedule,
    ScheduleResults,
)
from harness.scenarios import Scenario
from harness.schedule.agreement import compare
from harness.schedule.derive import derive_schedule
from harness.schedule.variants import Variant, scenario_for
from harness.targets import SenderTarget, target_class
from harness.targets.clock_warp import ClockWarpError

#: A real day in one and two minutes of wall time.
DEFAULT_TIME_SCALES = (1440.0, 720.0)
#: RFC 5321 4.5.4.1: destination delayed after failure (MUST), interval >= 30 min, give-up >= 4d.
CHECKS = ("retry-delayed", "retry-interval-30m", "give-up-4d")


#: Warped MTAs side by side on two cores. Every wall second a warped daemon waits for the CPU
#: is K of its own: six at once (`--targets all`) put Exim first retries at 49-59 minutes,
#: outside the 15-45 its configuration allows, by queue runs that started late; two at once
#: (every earlier reference run) kept them inside. More are measured in batches, in turn.
WARPS_AT_ONCE = 3


@dataclass(frozen=True)
class ScheduleRun:
    """What to measure: every target x variant x time scale, each one case."""

    targets: Sequence[str]
    variants: Sequence[Variant]
    work_dir: Path
    time_scales: Sequence[float] = DEFAULT_TIME_SCALES
    #: clock-warp factor per target (stock configuration, fast clock); none: no warped run
    clock_warps: Mapping[str, float] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda line: None
    #: how many times to measure everything, one run after another in fresh containers:
    #: where a value depends on a queue runner's phase, each run is another draw from the
    #: window the configuration allows, and the reports show their min-max
    repeats: int = 1
    #: at most this many targets run warped side by side (see `warp_batches`)
    warps_at_once: int = WARPS_AT_ONCE


def warp_batches(groups: Sequence[Group], limit: int) -> list[list[Group]]:
    """`groups` in batches to observe one after another: the scaled-configuration groups in the
    first, the warped ones `limit` targets at a time (a target's groups stay together)."""
    if limit < 1:
        raise MailstormError(f"warps at once {limit}: at least one")
    scaled = [g for g in groups if not g.clock_warp]
    warped_targets = list(dict.fromkeys(g.target for g in groups if g.clock_warp))
    batches = [
        [g for g in groups if g.clock_warp and g.target in warped_targets[i : i + limit]]
        for i in range(0, len(warped_targets), limit)
    ] or [[]]
    batches[0] = scaled + batches[0]
    return [batch for batch in batches if batch]


def run_schedules(run: ScheduleRun) -> ScheduleResults:
    """Measure every (target, variant, compression) `run.repeats` times, one run after
    another, each run in its own containers and work directory, and compare them.

    One after another, not side by side: runs side by side would share the two cores, and a
    warped MTA's measured attempt cost (its ±) grows with the load beside it. The runs' phases
    differ by themselves: each container's queue runner starts when it does.
    """
    if run.repeats < 1:
        raise MailstormError(f"repeats {run.repeats}: measure at least once")
    groups = schedule_groups(run)
    measured: list[MeasuredSchedule] = []
    found: list[Agreement] = []
    for repeat in range(run.repeats):
        work_dir = run.work_dir
        if run.repeats > 1:
            run.progress(f"run {repeat + 1} of {run.repeats}")
            work_dir = run.work_dir / f"run-{repeat + 1}"
            work_dir.mkdir(parents=True, exist_ok=True)
        observed = [
            case
            for batch in warp_batches(groups, run.warps_at_once)
            for case in observe_groups(batch, work_dir, run.progress)
        ]
        results = schedule_results(observed, repeat)
        measured += results.measured
        found += results.agreements
    return ScheduleResults(tuple(measured), tuple(found))


def schedule_groups(run: ScheduleRun) -> list[Group]:
    """The containers a schedule run needs: one per (target, compression) for the variants
    that may share one, and one more for each that holds deliveries (`blackhole`, whose
    five-minute greeting waits would otherwise delay the other variants' retries in Exim's
    queue runs); `mailstorm matrix` observes them after the matrix."""
    scenarios = [scenario_for(v) for v in run.variants]
    shared = sharing_sets(scenarios)
    alone = [[s] for s in scenarios]  # a relay with one smarthost: a receiver per container

    def sets(target: str) -> list[list[Scenario]]:
        return alone if target_class(target).single_smarthost else shared

    groups = [
        Group(target, scale, members, keep_logs=Variant.REFUSED in run.variants)
        for target in run.targets
        # an MTA with a compiled-in schedule has no scaled configuration to measure
        if not target_class(target).warp_only
        for scale in run.time_scales
        for members in sets(target)
    ]
    groups += [
        # Warped runs always keep the log: it is how the clock is checked.
        Group(target, run.clock_warps[target], members, keep_logs=True, clock_warp=True)
        for target in run.targets
        if target in run.clock_warps
        for members in sets(target)
    ]
    return groups


def schedule_results(observed: Sequence[ObservedCase], repeat: int = 0) -> ScheduleResults:
    """Schedules, checks and agreements from the finished cases of one run of
    `schedule_groups` (`repeat`: which run, from 0)."""
    variants = {scenario_for(v).id: v for v in Variant}
    measured = tuple(
        dataclasses.replace(m, repeat=repeat)
        for m in _shared_warp_uncertainty(
            [_measured(case, variants[case.scenario.id]) for case in observed]
        )
    )
    return ScheduleResults(measured, agreements(measured))


def default_clock_warps(targets: Sequence[str]) -> dict[str, float]:
    """Each target's own clock-warp factor, for those that can run warped."""
    return {
        name: factor
        for name in targets
        if (factor := target_class(name).default_warp_factor) is not None
    }


def _measured(case: ObservedCase, variant: Variant) -> MeasuredSchedule:
    target = case.target
    method = Method.CLOCK_WARP if target.clock_warp else Method.SCALED_CONFIG
    if case.evidence is None:
        return MeasuredSchedule(
            None,
            target.name,
            variant.value,
            case.time_scale,
            error=case.result.error,
            method=method,
        )
    evidence = case.evidence
    if variant is Variant.REFUSED and case.submissions:
        submission = case.submissions[0]
        attempts = refused_attempts(
            case.logs,
            sender=submission.sender,
            message_id=submission.message_id,
            start_wall=submission.wall,
            time_scale=case.time_scale,
            stamp_resolution=1 / case.time_scale if target.clock_warp else 1.0,
        )
        evidence = dataclasses.replace(evidence, attempts=attempts)
    unseen: tuple[Attempt, ...] = ()
    warp_u: float | None = None
    if target.clock_warp and variant is not Variant.REFUSED and case.submissions:
        submission = case.submissions[0]
        try:
            warp_u = target_warp_uncertainty(
                target, case.logs, submission, evidence, case.time_scale, case.host_stall
            )
        except ClockWarpError as error:
            return MeasuredSchedule(
                None, target.name, variant.value, case.time_scale, error=str(error), method=method
            )
        unseen = unseen_attempts(case.logs, submission, evidence.attempts, case.time_scale)
        attempts = tuple(sorted((*evidence.attempts, *unseen), key=lambda a: a.t))
        evidence = dataclasses.replace(evidence, attempts=attempts)
    schedule = derive_schedule(
        evidence,
        target=target.name,
        version=target.version,
        variant=variant.value,
        time_scale=case.time_scale,
        parameters=target.scaling.parameters,
        method=method,
    )
    uncertainty = warp_u
    if not target.clock_warp and (slack := target.retry_uncertainty()) is not None:
        # a process the host woke late is late by the stall times the scale (host_stalls.py)
        uncertainty = slack + case.time_scale * case.host_stall
    window = target.first_retry_window()
    schedule = dataclasses.replace(
        schedule, time_uncertainty=uncertainty, first_retry_window=window
    )
    checked = _checked(schedule, evidence, target)
    return MeasuredSchedule(
        checked,
        target.name,
        variant.value,
        case.time_scale,
        method=method,
        unseen_attempts=len(unseen),
    )


def _checked(schedule: Schedule, evidence: CaseEvidence, target: SenderTarget) -> Schedule:
    """The schedule with its RFC checks, judged like a matrix cell: with its uncertainty and
    the retry and give-up windows its configuration implies."""
    judged = CheckInput(
        evidence,
        time_uncertainty=schedule.time_uncertainty or 0.0,
        retry_window=retry_window(target),
        give_up_window=give_up_window(target),
    )
    return dataclasses.replace(schedule, checks=run_checks(CHECKS, judged))


def _shared_warp_uncertainty(measured: Sequence[MeasuredSchedule]) -> list[MeasuredSchedule]:
    """A warped schedule whose attempts never reached the receiver (`refused`) has no attempt
    cost of its own: it takes the largest of its target's other warped schedules, the same
    MTA on the same clock in the same run."""
    largest: dict[str, float] = {}
    for m in measured:
        u = m.schedule.time_uncertainty if m.schedule else None
        if m.method is Method.CLOCK_WARP and u is not None:
            largest[m.target] = max(u, largest.get(m.target, 0.0))
    filled = []
    for m in measured:
        s = m.schedule
        if s is not None and s.time_uncertainty is None and m.target in largest:
            s = dataclasses.replace(s, time_uncertainty=largest[m.target])
            m = dataclasses.replace(m, schedule=s)
        filled.append(m)
    return filled


def agreements(measured: Sequence[MeasuredSchedule]) -> tuple[Agreement, ...]:
    """Each (target, variant) in each run: the largest scale against every smaller one, and the
    clock warp (stock settings: the reference) against every scaled-config run."""
    found: list[Agreement] = []
    keys = dict.fromkeys((m.target, m.variant, m.repeat) for m in measured)
    for target, variant, repeat in keys:
        mine = [
            m.schedule
            for m in measured
            if (m.target, m.variant, m.repeat) == (target, variant, repeat)
            and m.schedule is not None
        ]
        scaled = sorted(
            (s for s in mine if s.method is Method.SCALED_CONFIG), key=lambda s: s.time_scale
        )
        pairs = [(fine, scaled[-1]) for fine in scaled[:-1]]
        pairs += [
            (warped, other)
            for warped in mine
            if warped.method is Method.CLOCK_WARP
            for other in scaled
        ]
        found += [dataclasses.replace(compare(a, b), repeat=repeat) for a, b in pairs]
    return tuple(found)
