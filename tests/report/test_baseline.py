"""Baselines: compare finds changed fates, changed check outcomes, missing and new cells."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.errors import MatrixFormatError, SchemaVersionError
from harness.report import (
    Baseline,
    DifferenceKind,
    compare,
    format_differences,
    load_baseline,
    write_baseline,
)
from harness.report.cells import TIMES
from harness.results import Matrix, Outcome, write_matrix_json
from tests.report.builders import build_matrix, fates, replace_case, without_case


def test_identical_matrices_have_no_difference(matrix: Matrix) -> None:
    assert compare(matrix, build_matrix()) == []
    assert format_differences([]) == "no difference from the baseline"


def test_a_changed_fate_is_one_readable_line(matrix: Matrix) -> None:
    current = replace_case(matrix, "rcpt-450", "postfix", fates=fates(bounced=1))
    [difference] = compare(matrix, current)
    assert difference.kind == DifferenceKind.FATES
    assert str(difference) == f"rcpt-450 {TIMES} postfix: fates queued 1 → bounced 1"


def test_fates_that_vary_are_compared_by_which_occur(matrix: Matrix, tmp_path: Path) -> None:
    """A cell whose fates are a draw of the sender's random choices (an IPv6 address answering
    550, the family picked at random): other counts are no difference, a fate that appears or
    disappears is; and the flag survives the baseline file."""
    drawn = replace_case(
        matrix, "rcpt-450", "postfix", fates=fates(delivered=3, bounced=7), fates_vary=True
    )
    baseline = load_baseline(write_baseline(drawn, tmp_path / "baseline.json"))
    redrawn = replace_case(
        matrix, "rcpt-450", "postfix", fates=fates(delivered=6, bounced=4), fates_vary=True
    )
    assert compare(baseline, redrawn) == []
    all_bounced = replace_case(
        matrix, "rcpt-450", "postfix", fates=fates(bounced=10), fates_vary=True
    )
    [difference] = compare(baseline, all_bounced)
    assert difference.kind == DifferenceKind.FATES
    assert str(difference).endswith("fates delivered 3, bounced 7 → bounced 10")


def test_a_changed_check_outcome_is_found_by_clause(matrix: Matrix) -> None:
    case = matrix.case("rcpt-550", "postfix")
    assert case is not None
    checks = tuple(
        dataclasses.replace(c, outcome=Outcome.DEVIATION, detail="the DSN has no Status")
        if c.clause == "RFC3464"
        else c
        for c in case.checks
    )
    [difference] = compare(matrix, replace_case(matrix, "rcpt-550", "postfix", checks=checks))
    assert difference.kind == DifferenceKind.CHECK
    assert difference.clause == "RFC3464"
    assert str(difference) == (
        f"rcpt-550 {TIMES} postfix: RFC3464 pass → deviation (the DSN has no Status)"
    )


def test_reordering_checks_of_one_clause_is_not_a_difference(matrix: Matrix) -> None:
    case = matrix.case("rcpt-450", "postfix")
    assert case is not None
    reordered = replace_case(matrix, "rcpt-450", "postfix", checks=tuple(reversed(case.checks)))
    assert compare(matrix, reordered) == []


def test_missing_and_new_cells(matrix: Matrix) -> None:
    current = without_case(matrix, "greylist", "postfix")
    [missing] = compare(matrix, current)
    assert missing.kind == DifferenceKind.MISSING
    assert str(missing) == (
        f"greylist {TIMES} postfix: missing (in the baseline as delivered 1, not in this run)"
    )
    [new] = compare(current, matrix)
    assert new.kind == DifferenceKind.NEW
    assert str(new) == f"greylist {TIMES} postfix: new (not in the baseline): delivered 1"


def test_becoming_a_harness_error_is_said_once(matrix: Matrix) -> None:
    current = replace_case(
        matrix, "rcpt-450", "exim", error="docker died", fates=fates(), checks=()
    )
    [difference] = compare(matrix, current)
    assert str(difference) == f"rcpt-450 {TIMES} exim: measured → harness error (docker died)"


def test_baseline_file_round_trip_one_line_per_cell(matrix: Matrix, tmp_path: Path) -> None:
    path = write_baseline(matrix, tmp_path / "baseline.json")
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == "mailstorm-baseline"
    assert data["baseline_version"] == 1
    cell_lines = [line for line in text.splitlines() if line.lstrip().startswith('{"scenario"')]
    assert len(cell_lines) == len(matrix.cases)
    assert cell_lines[0].strip().rstrip(",") == (
        '{"scenario": "rcpt-450", "target": "postfix", "fates": {"queued": 1}, "checks": '
        '{"RFC5321 4.2.1": ["pass"], "RFC5321 4.5.4.1": ["pass", "deviation"]}}'
    )
    loaded = load_baseline(path)
    assert loaded == Baseline.from_matrix(matrix)
    assert compare(loaded, matrix) == []
    changed = replace_case(matrix, "outage-72h-550", "exim", fates=fates(queued=1))
    assert [d.kind for d in compare(loaded, changed)] == [DifferenceKind.FATES]


def test_a_matrix_json_serves_as_a_baseline(matrix: Matrix, tmp_path: Path) -> None:
    path = write_matrix_json(matrix, tmp_path / "matrix.json")
    assert compare(load_baseline(path), matrix) == []


def test_bad_baseline_files_are_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text('{"format": "mailstorm-baseline", "baseline_version": 7}', encoding="utf-8")
    with pytest.raises(SchemaVersionError, match="baseline_version 7"):
        load_baseline(path)
    path.write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(MatrixFormatError, match="not a mailstorm baseline"):
        load_baseline(path)
    path.write_text(
        '{"format": "mailstorm-baseline", "baseline_version": 1, "cells": '
        '[{"scenario": "a", "target": "b", "fates": {"vanished": 1}}]}',
        encoding="utf-8",
    )
    with pytest.raises(MatrixFormatError, match=r"cells\[0\]\.fates \(key\): 'vanished'"):
        load_baseline(path)
