"""The committed reference results read back and written again are the same bytes.

`reports/reference/matrix.json` and `schedule.json` were written by real runs; reading them
through `harness.results` and writing them again must lose nothing and reorder nothing, so
every report re-rendered from them shows what the run measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.results import (
    matrix_to_json,
    read_matrix_json,
    read_schedule_json,
    schedule_results_to_json,
    schedule_spreads,
)
from harness.targets import target_class
from tests.stock_schedules import STOCK_SCHEDULE_CHECKS

REFERENCE = Path(__file__).resolve().parents[2] / "reports" / "reference"


@pytest.fixture
def reference() -> Path:
    if not (REFERENCE / "matrix.json").is_file():
        pytest.fail(f"no reference results in {REFERENCE}: run from a checkout")
    return REFERENCE


def test_reference_matrix_json_round_trips_byte_for_byte(reference: Path) -> None:
    path = reference / "matrix.json"
    matrix = read_matrix_json(path)
    assert matrix.cases, "the reference matrix has no cases"
    assert any(a.duration > 0 for case in matrix.cases for a in case.attempts)
    assert matrix_to_json(matrix) == path.read_text(encoding="utf-8")


def test_reference_schedule_json_round_trips_byte_for_byte(reference: Path) -> None:
    path = reference / "schedule.json"
    results = read_schedule_json(path)
    assert results.measured, "the reference schedule.json has no schedules"
    assert schedule_results_to_json(results) == path.read_text(encoding="utf-8")


def test_the_matrix_carries_the_schedule_json_schedules(reference: Path) -> None:
    """The matrix's schedules are the ones `schedule.json` holds (one run wrote both): the
    first run's, and the min to max of every run."""
    matrix = read_matrix_json(reference / "matrix.json")
    measured = read_schedule_json(reference / "schedule.json").measured
    first = {m.target: m.schedule for m in measured if m.repeat == 0}
    spreads = {s.target: s for s in schedule_spreads(measured)}
    assert set(first) == {t.name for t in matrix.targets if target_class(t.name).queues}
    for target in matrix.targets:
        if not target_class(target.name).queues:
            # the control column never retries: it has no schedule to measure
            assert (target.schedule, target.schedule_spread) == (None, None), target.name
            continue
        assert target.schedule is not None
        assert target.schedule == first[target.name]
        assert target.schedule_spread == spreads.get(target.name)


def test_every_reference_schedule_is_its_mtas_stock_schedule(reference: Path) -> None:
    """Each schedule the reference measured (every run, every version column) keeps to what its
    MTA's documented defaults imply (tests/stock_schedules.py)."""
    runs = json.loads((reference / "schedule.json").read_text(encoding="utf-8"))["schedules"]
    assert runs
    for measured in runs:
        base = measured["target"].partition("@")[0]
        STOCK_SCHEDULE_CHECKS[base](measured["schedule"])
