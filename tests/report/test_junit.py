"""junit.xml: a MUST deviation fails, a SHOULD deviation does not, a harness error is an error."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report import write_junit
from harness.results import Matrix
from tests.report.builders import replace_case


def parse(matrix: Matrix, tmp_path: Path) -> ET.Element:
    return ET.parse(write_junit(matrix, tmp_path / "junit.xml")).getroot()


def cases_of(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    [element] = [s for s in root.iter("testsuite") if s.get("name") == suite]
    return {case.get("name", ""): case for case in element.iter("testcase")}


def test_one_suite_per_target_one_case_per_scenario(matrix: Matrix, tmp_path: Path) -> None:
    root = parse(matrix, tmp_path)
    assert [suite.get("name") for suite in root.iter("testsuite")] == ["postfix", "exim"]
    for suite in root.iter("testsuite"):
        assert suite.get("tests") == "8"
        assert len(list(suite.iter("testcase"))) == 8
    properties = {p.get("name"): p.get("value") for p in root.find("testsuite/properties") or []}
    assert properties["version"] == "3.7.11"
    assert properties["time_scales"] == "60"


def test_failures_and_errors_are_counted_right(matrix: Matrix, tmp_path: Path) -> None:
    root = parse(matrix, tmp_path)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("16", "2", "1")
    exim = cases_of(root, "exim")
    assert [s.get("failures") for s in root.iter("testsuite")] == ["0", "2"]
    assert [s.get("errors") for s in root.iter("testsuite")] == ["0", "1"]
    # MUST deviation: a failure naming the clause
    failure = exim["code-class-mismatch-450-5.1.1"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("RFC5321 4.2 MUST:")
    assert exim["rcpt-550"].find("failure") is not None
    # harness error: an error, not a failure
    error = exim["greylist"].find("error")
    assert error is not None
    assert "exim did not start" in error.get("message", "")
    assert exim["greylist"].find("failure") is None


def test_a_should_deviation_is_a_result_not_a_failure(matrix: Matrix, tmp_path: Path) -> None:
    root = parse(matrix, tmp_path)
    case = cases_of(root, "postfix")["rcpt-450"]
    assert case.find("failure") is None
    assert case.find("error") is None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["should_deviations"] == "RFC5321 4.5.4.1"
    assert properties["verdict"] == "deviation"
    out = case.findtext("system-out") or ""
    assert "[SHOULD] RFC5321 4.5.4.1: deviation: retry interval should be at least 30m" in out
    assert "450 4.2.0 <user@libero.test> busy" in out


def test_control_characters_from_the_wire_keep_the_file_parseable(
    matrix: Matrix, tmp_path: Path
) -> None:
    dirty = replace_case(matrix, "rcpt-450", "postfix", journal_excerpt=("S: 450\x00\x1b[31m",))
    case = cases_of(parse(dirty, tmp_path), "postfix")["rcpt-450"]
    assert "S: 450\\x00\\x1b[31m" in (case.findtext("system-out") or "")
