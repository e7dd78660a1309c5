"""Joining the shards of a matrix (`mailstorm matrix --shard i/N`) into one matrix.

Each shard's run directory holds its `matrix.json` and, when it measured retry schedules, its
`schedule.json`. The merge takes every cell once (a cell found in two shards is an error: the
shards were not cut from the same arguments), every target once with the time scales and
parameters of all its containers, and every measured schedule; the schedules are attached to
the merged matrix as a single run would, so its reports and its baseline comparison are those
of the unsharded run.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import MailstormError, MatrixFormatError
from harness.results import (
    MATRIX_JSON,
    SCHEDULE_JSON,
    CaseResult,
    Matrix,
    ScheduleResults,
    TargetInfo,
    attach_schedules,
    read_matrix_json,
    read_schedule_json,
)


@dataclass(frozen=True)
class ShardResult:
    """One shard's results as read from its run directory (or its matrix.json)."""

    path: Path
    matrix: Matrix
    schedules: ScheduleResults | None


def read_shard(path: Path) -> ShardResult:
    """A shard's run directory, or its matrix.json (its schedule.json beside it, if any)."""
    matrix_file = path / MATRIX_JSON if path.is_dir() else path
    if not matrix_file.is_file():
        raise MailstormError(f"{path}: no {MATRIX_JSON} there (a shard's run directory?)")
    try:
        matrix = read_matrix_json(matrix_file)
        schedule_file = matrix_file.with_name(SCHEDULE_JSON)
        schedules = read_schedule_json(schedule_file) if schedule_file.is_file() else None
    except MatrixFormatError as error:
        raise MailstormError(str(error)) from None
    return ShardResult(path, matrix, schedules)


def merge_shards(
    shards: Sequence[ShardResult],
    scenario_order: Sequence[str] = (),
    target_order: Sequence[str] = (),
) -> tuple[Matrix, ScheduleResults | None]:
    """The one matrix of all the shards, its cells in `scenario_order` and then in
    `target_order` (the run's `--targets`: a shard knows only the targets it ran), names
    missing from either after the others, by name; and the shards' schedules together (None
    when no shard measured any)."""
    if not shards:
        raise MailstormError("matrix merge: give the shards' run directories")
    owner: dict[tuple[str, str], Path] = {}
    cases: list[CaseResult] = []
    for shard in shards:
        for case in shard.matrix.cases:
            key = (case.scenario, case.target)
            if key in owner:
                raise MailstormError(
                    f"matrix merge: the cell {case.scenario} on {case.target} is in both "
                    f"{owner[key]} and {shard.path}: the shards were not cut from one run's "
                    "arguments"
                )
            owner[key] = shard.path
            cases.append(case)
    wanted = {name: i for i, name in enumerate(target_order)}
    targets = tuple(
        sorted(
            _merged_targets([t for s in shards for t in s.matrix.targets]),
            key=lambda t: (wanted.get(t.name, len(wanted)), t.name),
        )
    )
    rank = {scenario: i for i, scenario in enumerate(scenario_order)}
    target_rank = {t.name: i for i, t in enumerate(targets)}
    cases.sort(key=lambda c: (rank.get(c.scenario, len(rank)), c.scenario, target_rank[c.target]))
    measured = [m for s in shards if s.schedules for m in s.schedules.measured]
    agreements = [a for s in shards if s.schedules for a in s.schedules.agreements]
    schedules = ScheduleResults(tuple(measured), tuple(agreements)) if measured else None
    matrix = Matrix(
        run_id="merged-" + "+".join(s.matrix.run_id for s in shards),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        targets=targets,
        cases=tuple(cases),
    )
    if schedules is not None:
        bare = tuple(replace(t, schedule=None, schedule_spread=None) for t in matrix.targets)
        matrix = attach_schedules(replace(matrix, targets=bare), schedules.measured)
    return matrix, schedules


def _merged_targets(infos: Sequence[TargetInfo]) -> tuple[TargetInfo, ...]:
    merged: dict[str, TargetInfo] = {}
    for info in infos:
        known = merged.get(info.name)
        if known is None:
            merged[info.name] = info
            continue
        if (known.version, known.package_version) != (info.version, info.package_version):
            raise MailstormError(
                f"matrix merge: {info.name} is {known.version} in one shard and {info.version} "
                "in another: the shards ran different images"
            )
        scales = tuple(dict.fromkeys((*known.time_scales, *info.time_scales)))
        parameters = known.parameters + tuple(
            p for p in info.parameters if p not in known.parameters
        )
        merged[info.name] = replace(
            known,
            time_scales=scales,
            parameters=parameters,
            schedule=known.schedule or info.schedule,
            schedule_spread=known.schedule_spread or info.schedule_spread,
        )
    return tuple(merged.values())
