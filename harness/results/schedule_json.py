"""`schedule.json`: the retry schedules of a run on disk, read back exactly, and the one rule
that picks the schedule standing for a target.

Written by `mailstorm schedule` and by `mailstorm matrix` (the schedules it measures after the
matrix); read by `mailstorm matrix --schedules`, by the reports and by `herd model`, all through
this module. Times are real MTA seconds at full precision; the derived intervals are written for
readers and recomputed, not read. Files of older mailstorms (no `method` beside the schedule,
attempts rounded to 0.1 s) are still read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.errors import MatrixFormatError
from harness.files import write_text_atomically
from harness.results.case import Check, Level, Outcome
from harness.results.fields import Fields, choice
from harness.results.matrix import Matrix, TargetInfo
from harness.results.matrix_json import load_json_file, schedule_fields
from harness.results.schedule import (
    Agreement,
    MeasuredSchedule,
    Method,
    Metric,
    ScaledParameter,
    Schedule,
    ScheduleResults,
)
from harness.results.schedule_spread import schedule_spreads

SCHEDULE_JSON = "schedule.json"
#: Variants in order of preference: a receiver answering 4xx (451 to every RCPT) is what a
#: receiver in trouble should do, and what the matrix and the herd are about; the others stand
#: in for a target without one.
VARIANT_PREFERENCE = ("4xx", "blackhole", "refused")
#: The variant the matrix shows.
MATRIX_VARIANT = "4xx"


def schedule_results_to_json(results: ScheduleResults) -> str:
    """The text of a `schedule.json` (UTF-8, indented)."""
    return json.dumps(schedule_results_to_json_data(results), indent=2) + "\n"


def schedule_results_to_json_data(results: ScheduleResults) -> dict[str, Any]:
    """The JSON value of a `schedule.json`: every measurement, then every agreement."""
    return {
        "schedules": [_measured_data(m) for m in results.measured],
        "agreements": [
            {**asdict(a), "agrees": a.agrees} | {"metrics": [asdict(m) for m in a.metrics]}
            for a in results.agreements
        ],
    }


def write_schedule_json(results: ScheduleResults, path: str | Path) -> Path:
    """Write `results` to `path` (atomically)."""
    return write_text_atomically(path, schedule_results_to_json(results))


def read_schedule_json(path: str | Path) -> ScheduleResults:
    """The schedules and agreements of a `schedule.json`.

    A file that is not one raises `MatrixFormatError` (a `MailstormError`) naming the file and
    the field, in one line.
    """
    path = Path(path)
    top = Fields(load_json_file(path), "", str(path))
    if "schedules" not in top.data:
        raise MatrixFormatError(
            f"{path}: no 'schedules': not a schedule.json written by mailstorm schedule"
        )
    return ScheduleResults(
        measured=tuple(_measured(raw) for raw in top.objects("schedules")),
        agreements=tuple(_agreement(raw) for raw in top.objects("agreements", [])),
    )


def choose_schedule(
    measured: Iterable[MeasuredSchedule],
    target: str,
    variants: Sequence[str] = VARIANT_PREFERENCE,
) -> MeasuredSchedule | None:
    """The measurement that stands for `target`: the first of `variants` it has, measured under
    a warped clock if it was (stock settings, nothing rounded), else at the smallest time scale
    (the least distorted), its first run when it was measured more than once; None when it has
    none."""
    candidates = [
        m
        for m in measured
        if m.target == target and m.variant in variants and m.schedule is not None
    ]
    return min(
        candidates,
        key=lambda m: (
            variants.index(m.variant),
            m.method is not Method.CLOCK_WARP,
            m.time_scale,
            m.repeat,
        ),
        default=None,
    )


def attach_schedules(matrix: Matrix, measured: Iterable[MeasuredSchedule]) -> Matrix:
    """`matrix` with each target's `4xx` retry schedule chosen from `measured`, and the
    spread of its runs when that schedule was measured more than once.

    A target without a measured `4xx` schedule keeps what it had (usually none); schedules of
    targets the matrix does not have are left out.
    """
    measured = tuple(measured)
    spreads = {(s.target, s.variant, s.method, s.time_scale): s for s in schedule_spreads(measured)}
    targets: list[TargetInfo] = []
    for target in matrix.targets:
        chosen = choose_schedule(measured, target.name, (MATRIX_VARIANT,))
        if chosen is None or chosen.schedule is None:
            targets.append(target)
            continue
        spread = spreads.get((chosen.target, chosen.variant, chosen.method, chosen.time_scale))
        targets.append(
            dataclasses.replace(target, schedule=chosen.schedule, schedule_spread=spread)
        )
    return dataclasses.replace(matrix, targets=tuple(targets))


def _measured_data(m: MeasuredSchedule) -> dict[str, Any]:
    return {
        "target": m.target,
        "variant": m.variant,
        "method": m.method.value,
        "time_scale": m.time_scale,
        "error": m.error,
        "unseen_attempts": m.unseen_attempts,
        "repeat": m.repeat,
        "schedule": _schedule_data(m.schedule) if m.schedule else None,
        "checks": [asdict(check) for check in m.checks],
    }


def _schedule_data(schedule: Schedule) -> dict[str, Any]:
    return schedule_fields(schedule, interval_digits=1) | {
        "distorted_parameters": [
            {
                "name": p.name,
                "default_seconds": p.default_seconds,
                "configured_seconds": p.configured_seconds,
                "distortion": p.distortion,
                "note": p.note,
                "early_seconds": p.early_seconds,
            }
            for p in schedule.distorted
        ],
    }


def _measured(data: Fields) -> MeasuredSchedule:
    checks = tuple(_check(raw) for raw in data.objects("checks", []))
    raw_schedule = data.data.get("schedule")
    schedule = None if raw_schedule is None else _schedule(data.object("schedule"), checks)
    # Older files have the method only inside the schedule.
    if "method" in data.data:
        method = data.choice(Method, "method")
    else:
        method = schedule.method if schedule is not None else Method.SCALED_CONFIG
    return MeasuredSchedule(
        schedule=schedule,
        target=data.string("target"),
        variant=data.string("variant"),
        time_scale=data.number("time_scale"),
        error=data.optional_string("error"),
        method=method,
        unseen_attempts=data.integer("unseen_attempts", 0),
        repeat=data.integer("repeat", 0),
    )


def _schedule(data: Fields, checks: tuple[Check, ...]) -> Schedule:
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
        time_uncertainty=data.optional_number("time_uncertainty"),
        first_retry_window=data.optional_pair("first_retry_window"),
        # Only the distorted ones are written; the exact ones add nothing to a report.
        parameters=tuple(
            ScaledParameter(
                name=raw.string("name"),
                default_seconds=raw.number("default_seconds"),
                configured_seconds=raw.number("configured_seconds"),
                time_scale=time_scale,
                note=raw.string("note", ""),
                early_seconds=raw.number("early_seconds", 0.0),
            )
            for raw in data.objects("distorted_parameters", [])
        ),
        method=data.choice(Method, "method") if "method" in data.data else Method.SCALED_CONFIG,
        checks=checks,
    )


def _check(data: Fields) -> Check:
    return Check(
        clause=data.string("clause"),
        level=data.choice(Level, "level"),
        outcome=data.choice(Outcome, "outcome"),
        detail=data.string("detail"),
        measured=dict(data.object("measured", {}).data),
    )


def _agreement(data: Fields) -> Agreement:
    scales = data.numbers("time_scales")
    methods = tuple(
        choice(Method, m, f"{data.where}.methods", data.source)
        for m in data.strings("methods", [Method.SCALED_CONFIG.value] * 2)
    )
    if len(scales) != 2 or len(methods) != 2:
        raise MatrixFormatError(
            f"{data.source}: {data.where}: expected two time_scales and two methods"
        )
    return Agreement(
        target=data.string("target"),
        variant=data.string("variant"),
        time_scales=(scales[0], scales[1]),
        metrics=tuple(_metric(raw) for raw in data.objects("metrics")),
        methods=(methods[0], methods[1]),
        repeat=data.integer("repeat", 0),
    )


def _metric(data: Fields) -> Metric:
    raw_values = data.data.get("values")
    if not isinstance(raw_values, list) or len(raw_values) != 2:
        raise MatrixFormatError(f"{data.source}: {data.where}.values: expected two values")
    values = tuple(
        None if v is None else _number(v, f"{data.source}: {data.where}.values") for v in raw_values
    )
    return Metric(
        name=data.string("name"),
        values=(values[0], values[1]),
        tolerance=data.number("tolerance"),
        agrees=data.boolean("agrees"),
        explained_by=data.strings("explained_by", []),
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MatrixFormatError(f"{where}: expected a number, not {value!r}")
    return float(value)
