"""Sharding: every container in exactly one shard, balanced, the same split on every machine;
and a merge of a real matrix cut in two gives that matrix back (its cells, its targets, its
schedules), refusing shards that overlap or ran other images. The docker run of two shards
merged against an unsharded baseline is in test_matrix_command.py."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import MailstormError
from harness.matrix import MatrixRun, Shard, matrix_groups, merge_shards, read_shard, split
from harness.matrix.runner import group_cost
from harness.results import SCHEDULE_JSON, read_matrix_json, write_matrix_json
from harness.scenarios import load_catalogue
from harness.targets import chosen_targets

REFERENCE = Path(__file__).parents[2] / "reports" / "reference"


def test_every_item_is_in_one_part_and_the_parts_are_balanced() -> None:
    costs = [7.0, 1.0, 3.0, 3.0, 2.0, 9.0, 1.0, 4.0, 4.0, 5.0]
    parts = split(list(range(len(costs))), 3, cost=lambda i: costs[i])
    assert sorted(i for part in parts for i in part) == list(range(len(costs)))
    loads = [sum(costs[i] for i in part) for part in parts]
    assert max(loads) - min(loads) <= max(costs)
    assert parts == split(list(range(len(costs))), 3, cost=lambda i: costs[i])  # deterministic
    assert all(part == sorted(part) for part in parts)  # each part keeps the items' order


def test_the_bundled_matrix_splits_into_disjoint_shards_that_cover_it(tmp_path: Path) -> None:
    targets = chosen_targets("all", [])
    run = MatrixRun(targets=targets, scenarios=load_catalogue(), work_dir=tmp_path)
    groups = matrix_groups(run)
    parts = split(groups, 3, cost=group_cost)
    assert sum(len(p) for p in parts) == len(groups)
    cells = [{(s.id, g.target, g.time_scale) for g in p for s in g.scenarios} for p in parts]
    assert sum(len(c) for c in cells) == len(cells[0] | cells[1] | cells[2])  # disjoint
    loads = [sum(group_cost(g) for g in p) for p in parts]
    assert max(loads) - min(loads) <= max(group_cost(g) for g in groups)


@pytest.mark.parametrize(("text", "message"), [("0/2", "1 <= I <= N"), ("a/b", "expected I/N")])
def test_a_bad_shard_is_a_one_line_error(text: str, message: str) -> None:
    with pytest.raises(MailstormError, match=message):
        Shard.parse(text)


def _cut_reference(tmp_path: Path, *, by_scenario: bool = False) -> list[Path]:
    """The committed reference matrix cut in two run directories, the schedules in the first:
    every other cell (with an even number of columns, each shard has half the targets), or the
    first half of the scenarios and the rest (each shard has every target)."""
    matrix = read_matrix_json(REFERENCE / "matrix.json")
    if by_scenario:
        ids = list(dict.fromkeys(c.scenario for c in matrix.cases))
        first = set(ids[: len(ids) // 2])
        halves = (
            tuple(c for c in matrix.cases if c.scenario in first),
            tuple(c for c in matrix.cases if c.scenario not in first),
        )
    else:
        halves = (matrix.cases[::2], matrix.cases[1::2])
    dirs = []
    for i, cases in enumerate(halves):
        names = {c.target for c in cases}
        targets = tuple(
            replace(t, schedule=None, schedule_spread=None)
            for t in matrix.targets
            if t.name in names
        )
        directory = tmp_path / f"shard{i + 1}"
        directory.mkdir()
        write_matrix_json(replace(matrix, targets=targets, cases=cases), directory / "matrix.json")
        dirs.append(directory)
    shutil.copyfile(REFERENCE / SCHEDULE_JSON, dirs[0] / SCHEDULE_JSON)
    return dirs


@pytest.mark.parametrize("by_scenario", [False, True])
def test_a_matrix_cut_in_two_merges_back_into_itself(tmp_path: Path, by_scenario: bool) -> None:
    reference = read_matrix_json(REFERENCE / "matrix.json")
    shards = [read_shard(d) for d in _cut_reference(tmp_path, by_scenario=by_scenario)]
    merged, schedules = merge_shards(
        shards, [s.id for s in load_catalogue()], [t.name for t in reference.targets]
    )
    assert merged.cases == reference.cases
    assert [t.name for t in merged.targets] == [t.name for t in reference.targets]
    assert schedules is not None
    by_name = {t.name: t for t in merged.targets}
    for target in reference.targets:
        assert by_name[target.name].schedule == target.schedule, target.name
        assert by_name[target.name].time_scales == target.time_scales, target.name


def test_shards_that_overlap_or_ran_other_images_are_refused(tmp_path: Path) -> None:
    first, second = _cut_reference(tmp_path, by_scenario=True)
    shard = read_shard(first)
    with pytest.raises(MailstormError, match="is in both"):
        merge_shards([shard, shard])
    other = read_shard(second)
    renamed = replace(
        other.matrix,
        targets=tuple(replace(t, version=t.version + "-other") for t in other.matrix.targets),
    )
    with pytest.raises(MailstormError, match="ran different images"):
        merge_shards([shard, replace(other, matrix=renamed)])
