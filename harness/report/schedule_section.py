"""Retry schedules in the matrix: `harness.schedule` results made into the matrix's own model.

The one module of `harness.report` that knows `harness.schedule`: the reports draw
`TargetSchedule`, a plain record of the matrix model, so they stay readable from a `matrix.json`
alone. A schedule is measured apart from the matrix's cases (`mailstorm schedule`, or the matrix
runner), for one target, variant and time scale; the matrix carries one per target, the one
that stands for the MTA best: the `4xx` variant (a receiver answering 451 to every RCPT, what a
receiver in trouble should do), measured under a warped clock when there is such a measurement
(stock settings, nothing rounded), else at the smallest time scale (the least distorted).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from harness.errors import MatrixFormatError
from harness.report._decode import Fields
from harness.report.matrix_json import load_json_file
from harness.report.model import (
    Check,
    Level,
    Matrix,
    Outcome,
    ScheduleParameter,
    TargetInfo,
    TargetSchedule,
)
from harness.schedule import MeasuredSchedule, Schedule
from harness.targets import ScaledParameter

#: The variant the matrix shows: the receiver answers 451 to every RCPT.
MATRIX_VARIANT = "4xx"


class Method(StrEnum):
    """How a schedule's time was compressed (`Schedule.method`)."""

    SCALED_CONFIG = "scaled-config"  #: the MTA's time settings divided by k, rounded
    CLOCK_WARP = "clock-warp"  #: stock settings, the MTA's clock sped up k times (libfaketime)


def target_schedule(schedule: Schedule, checks: Iterable[Check] = ()) -> TargetSchedule:
    """`schedule` as the matrix model holds it, with its checks and its distorted parameters."""
    return TargetSchedule(
        target=schedule.target,
        version=schedule.version,
        variant=schedule.variant,
        method=schedule.method,
        time_scale=schedule.time_scale,
        attempts=schedule.attempts,
        warning=schedule.warning,
        give_up=schedule.give_up,
        observed_for=schedule.observed_for,
        checks=tuple(checks),
        distorted=tuple(
            ScheduleParameter(
                name=p.name,
                default_seconds=p.default_seconds,
                configured_seconds=p.configured_seconds,
                effective_real_seconds=p.effective_real_seconds,
                note=p.note,
            )
            for p in schedule.distorted
        ),
    )


def schedule_section(measured: MeasuredSchedule) -> TargetSchedule | None:
    """The matrix's record of one measured schedule; None when it could not be measured."""
    if measured.schedule is None:
        return None
    return target_schedule(measured.schedule, measured.checks)


def choose_schedule(measured: Iterable[MeasuredSchedule], target: str) -> MeasuredSchedule | None:
    """The schedule the matrix shows for `target`: its `4xx` variant, measured under a warped
    clock if it was, else at the smallest time scale; None when there is none."""
    candidates = [
        m
        for m in measured
        if m.target == target and m.variant == MATRIX_VARIANT and m.schedule is not None
    ]
    return min(
        candidates,
        key=lambda m: (m.schedule is None or m.schedule.method != Method.CLOCK_WARP, m.time_scale),
        default=None,
    )


def attach_schedules(matrix: Matrix, measured: Iterable[MeasuredSchedule]) -> Matrix:
    """`matrix` with each target's retry schedule chosen from `measured` (`choose_schedule`).

    A target without a measured `4xx` schedule keeps what it had (usually none); schedules of
    targets the matrix does not have are left out.
    """
    measured = tuple(measured)
    targets: list[TargetInfo] = []
    for target in matrix.targets:
        chosen = choose_schedule(measured, target.name)
        section = schedule_section(chosen) if chosen is not None else None
        targets.append(dataclasses.replace(target, schedule=section or target.schedule))
    return dataclasses.replace(matrix, targets=tuple(targets))


def read_schedule_json(path: str | Path) -> tuple[MeasuredSchedule, ...]:
    """The measured schedules of a `schedule.json` written by `mailstorm schedule`.

    A file that is not one raises `MatrixFormatError` (a `MailstormError`) naming the file and
    the field, in one line.
    """
    path = Path(path)
    top = Fields(load_json_file(path), "", str(path))
    if "schedules" not in top.data:
        raise MatrixFormatError(
            f"{path}: no 'schedules': not a schedule.json written by mailstorm schedule"
        )
    return tuple(_measured(raw) for raw in top.objects("schedules"))


def _measured(data: Fields) -> MeasuredSchedule:
    return MeasuredSchedule(
        schedule=None if data.data.get("schedule") is None else _schedule(data.object("schedule")),
        target=data.string("target"),
        variant=data.string("variant"),
        time_scale=data.number("time_scale"),
        checks=tuple(_check(raw) for raw in data.objects("checks", [])),
        error=data.optional_string("error"),
    )


def _schedule(data: Fields) -> Schedule:
    time_scale = data.number("time_scale")
    return Schedule(
        target=data.string("target"),
        version=data.string("version"),
        variant=data.string("variant"),
        time_scale=time_scale,
        attempts=tuple(sorted(data.numbers("attempts"))),
        warning=data.optional_number("warning"),
        give_up=data.optional_number("give_up"),
        observed_for=data.number("observed_for"),
        # Only the distorted ones are written; the exact ones add nothing to a report.
        parameters=tuple(
            ScaledParameter(
                name=raw.string("name"),
                default_seconds=raw.number("default_seconds"),
                configured_seconds=raw.number("configured_seconds"),
                time_scale=time_scale,
                note=raw.string("note", ""),
            )
            for raw in data.objects("distorted_parameters", [])
        ),
        method=data.choice(Method, "method") if "method" in data.data else Method.SCALED_CONFIG,
    )


def _check(data: Fields) -> Check:
    return Check(
        clause=data.string("clause"),
        level=data.choice(Level, "level"),
        outcome=data.choice(Outcome, "outcome"),
        detail=data.string("detail"),
    )
