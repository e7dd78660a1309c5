"""A scenario that does not apply to a sender (a relay's DNS/MX scenarios): verdict `n/a` in
every report, read back from matrix.json, skipped in JUnit, its own kind in baselines."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report import (
    DifferenceKind,
    compare,
    load_baseline,
    render_html,
    render_markdown,
    write_baseline,
    write_junit,
)
from harness.report.cells import TIMES, cell_text, verdict_counts
from harness.results import Matrix, read_matrix_json, write_matrix_json
from tests.report.builders import fates, replace_case

WHY = "relays every message to its smarthost and looks up no MX"


def with_not_applicable(matrix: Matrix) -> Matrix:
    return replace_case(
        matrix, "greylist", "exim", error=None, not_applicable=WHY, fates=fates(), checks=()
    )


def test_the_cell_reads_n_a_and_is_counted_apart(matrix: Matrix) -> None:
    changed = with_not_applicable(matrix)
    case = changed.case("greylist", "exim")
    assert case is not None
    assert case.verdict == "n/a"
    assert cell_text(case) == "\N{HEAVY MINUS SIGN} n/a"
    assert verdict_counts(changed)["n/a"] == 1
    assert verdict_counts(changed)["error"] == verdict_counts(matrix)["error"] - 1
    assert "| `greylist` | ✅ delivered 1 | \N{HEAVY MINUS SIGN} n/a |" in render_markdown(changed)
    html = render_html(changed)
    assert f"not applicable: {WHY}" in html
    assert 'class="cell v-na"' in html
    assert f"not applicable<title>{WHY}</title>" in html  # its row in the schedule timeline


def test_it_round_trips_through_matrix_json(matrix: Matrix, tmp_path: Path) -> None:
    changed = with_not_applicable(matrix)
    path = write_matrix_json(changed, tmp_path / "matrix.json")
    assert '"not_applicable": "relays every' in path.read_text(encoding="utf-8")
    again = read_matrix_json(path)
    assert again == changed
    # the measured cells' records carry no such key
    assert path.read_text(encoding="utf-8").count('"not_applicable"') == 1


def test_junit_skips_it_with_the_reason(matrix: Matrix, tmp_path: Path) -> None:
    root = ET.parse(write_junit(with_not_applicable(matrix), tmp_path / "junit.xml")).getroot()
    assert (root.get("errors"), root.get("skipped")) == ("0", "1")
    [exim] = [s for s in root.iter("testsuite") if s.get("name") == "exim"]
    [case] = [c for c in exim.iter("testcase") if c.get("name") == "greylist"]
    skipped = case.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == WHY


def test_a_baseline_names_the_change_of_applicability(matrix: Matrix, tmp_path: Path) -> None:
    changed = with_not_applicable(matrix)
    baseline = load_baseline(write_baseline(changed, tmp_path / "baseline.json"))
    assert compare(baseline, changed) == []
    measured = replace_case(changed, "greylist", "exim", not_applicable=None, fates=fates(lost=1))
    [difference] = compare(baseline, measured)
    assert difference.kind == DifferenceKind.APPLICABILITY
    assert str(difference).startswith(f"greylist {TIMES} exim: not applicable → measured")
