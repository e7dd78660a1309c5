"""Measuring schedules: one case per (target, variant, time scale), all at once.

It reuses the matrix runner's cases (`observe_groups`): a container per (target, time scale),
since a target's clock is fixed when it starts, with one receiver per variant in it. Both time
scales run concurrently, so validating compression costs one run, as long as the slower scale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.conformance import CheckInput, run_checks
from harness.matrix import Group, ObservedCase, observe_groups
from harness.report.model import Check
from harness.schedule.agreement import Agreement, compare
from harness.schedule.model import Schedule, derive_schedule
from harness.schedule.refused import refused_attempts
from harness.schedule.variants import Variant, scenario_for

#: Six and twelve minutes of wall time for six real days.
DEFAULT_TIME_SCALES = (1440.0, 720.0)
#: RFC 5321 4.5.4.1: destination delayed after failure (MUST), interval >= 30 min, give-up >= 4d.
CHECKS = ("retry-delayed", "retry-interval-30m", "give-up-4d")


@dataclass(frozen=True)
class ScheduleRun:
    """What to measure: every target x variant x time scale, each one case."""

    targets: Sequence[str]
    variants: Sequence[Variant]
    work_dir: Path
    time_scales: Sequence[float] = DEFAULT_TIME_SCALES
    progress: Callable[[str], None] = lambda line: None


@dataclass(frozen=True)
class MeasuredSchedule:
    """A schedule with its RFC checks, or the harness error that prevented measuring it."""

    schedule: Schedule | None
    target: str
    variant: str
    time_scale: float
    checks: tuple[Check, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class ScheduleResults:
    """Every measured schedule, and each pair of scales compared."""

    measured: tuple[MeasuredSchedule, ...]
    agreements: tuple[Agreement, ...] = field(default=())


def run_schedules(run: ScheduleRun) -> ScheduleResults:
    """Measure every (target, variant, scale) and compare each pair of scales."""
    scenarios = {scenario_for(v).id: v for v in run.variants}
    groups = [
        Group(
            target,
            scale,
            [scenario_for(v) for v in run.variants],
            keep_logs=Variant.REFUSED in run.variants,
        )
        for target in run.targets
        for scale in run.time_scales
    ]
    observed = observe_groups(groups, run.work_dir, run.progress)
    measured = tuple(_measured(case, scenarios[case.scenario.id]) for case in observed)
    return ScheduleResults(measured, agreements(measured))


def _measured(case: ObservedCase, variant: Variant) -> MeasuredSchedule:
    target = case.target
    if case.evidence is None:
        return MeasuredSchedule(
            None, target.name, variant.value, case.time_scale, error=case.result.error
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
        )
        evidence = dataclasses.replace(evidence, attempts=attempts)
    schedule = derive_schedule(
        evidence,
        target=target.name,
        version=target.version,
        variant=variant.value,
        time_scale=case.time_scale,
        parameters=target.scaling.parameters,
    )
    return MeasuredSchedule(
        schedule,
        target.name,
        variant.value,
        case.time_scale,
        checks=run_checks(CHECKS, CheckInput(evidence)),
    )


def agreements(measured: Sequence[MeasuredSchedule]) -> tuple[Agreement, ...]:
    """Each (target, variant): the largest scale against every smaller one."""
    found = []
    keys = dict.fromkeys((m.target, m.variant) for m in measured)
    for target, variant in keys:
        runs = sorted(
            (
                m.schedule
                for m in measured
                if (m.target, m.variant) == (target, variant) and m.schedule is not None
            ),
            key=lambda schedule: schedule.time_scale,
        )
        found += [compare(fine, runs[-1]) for fine in runs[:-1]]
    return tuple(found)
