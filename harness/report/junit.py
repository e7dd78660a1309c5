"""`junit.xml`: the matrix as test results for CI (one testsuite per target, one testcase per
scenario), so a CI system lists cells, tracks them over time and fails the build on the right ones.

What fails: a harness error is an `<error>` (the case could not be measured) and a deviation
from a MUST or MUST NOT is a `<failure>`. A deviation from a SHOULD is a result, not a test
failure: it is recorded in the case's `<system-out>` and in a `should_deviations` property, so it
is visible without turning the build red for a behaviour the RFC allows.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.files import write_text_atomically
from harness.report import cells
from harness.report._text import printable
from harness.results import CaseResult, Check, Level, Matrix, Outcome

JUNIT_XML = "junit.xml"


def render_junit(matrix: Matrix) -> str:
    """The text of `junit.xml`."""
    root = ET.Element("testsuites", name=f"mailstorm {_x(matrix.run_id)}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    info = {target.name: target for target in matrix.targets}
    order = {scenario: index for index, scenario in enumerate(cells.scenarios(matrix))}
    for name in cells.targets(matrix):
        cases = sorted(
            (case for case in matrix.cases if case.target == name),
            key=lambda case: order[case.scenario],
        )
        suite = ET.SubElement(root, "testsuite", name=_x(name), timestamp=_x(matrix.created))
        properties = ET.SubElement(suite, "properties")
        target = info.get(name)
        if target is not None:
            _property(properties, "version", target.version)
            _property(properties, "package_version", target.package_version)
            _property(properties, "time_scales", ", ".join(f"{k:g}" for k in target.time_scales))
            for phrase in cells.distorted_parameters(target):
                _property(properties, "distorted_time_parameter", phrase)
        counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            outcome = _testcase(suite, case)
            if outcome:
                counts[outcome] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", _seconds(sum(_wall_seconds(case) for case in cases)))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(matrix: Matrix, path: str | Path) -> Path:
    """Write `junit.xml` to `path`."""
    return write_text_atomically(path, render_junit(matrix))


def _testcase(suite: ET.Element, case: CaseResult) -> str | None:
    """Add the case; return "errors", "failures", "skipped" or None for what it counts as."""
    element = ET.SubElement(
        suite,
        "testcase",
        classname=f"mailstorm.{_x(case.target)}",
        name=_x(case.scenario),
        time=_seconds(_wall_seconds(case)),
    )
    properties = ET.SubElement(element, "properties")
    _property(properties, "verdict", case.verdict)
    _property(properties, "fates", cells.fates_text(case))
    _property(properties, "time_scale", f"{case.time_scale:g}")
    _property(properties, "observed_for_real_seconds", f"{case.observed_for:g}")
    deviations = [check for check in case.checks if check.outcome == Outcome.DEVIATION]
    required = [check for check in deviations if check.level in cells.REQUIRED_LEVELS]
    recommended = [check for check in deviations if check.level not in cells.REQUIRED_LEVELS]
    if recommended:
        _property(properties, "should_deviations", "; ".join(c.clause for c in recommended))
    counted: str | None = None
    if case.not_applicable:
        skipped = ET.SubElement(element, "skipped", message=_x(case.not_applicable))
        skipped.text = _x(f"not applicable: {case.not_applicable}")
        counted = "skipped"
    elif case.error:
        error = ET.SubElement(element, "error", message=_x(case.error), type="HarnessError")
        error.text = _x(case.error)
        counted = "errors"
    elif required:
        failure = ET.SubElement(
            element,
            "failure",
            message=_x("; ".join(f"{c.clause} {c.level.value}: {c.detail}" for c in required)),
            type=Level.MUST.value,
        )
        failure.text = _x("\n".join(_check_line(c) for c in required))
        counted = "failures"
    ET.SubElement(element, "system-out").text = _x(_system_out(case))
    return counted


def _system_out(case: CaseResult) -> str:
    lines = [
        f"{case.scenario} on {case.target}: {case.verdict}",
        case.description,
        f"fates: {cells.fates_text(case)}; time scale x{case.time_scale:g}; observed for "
        f"{cells.real_time(case.observed_for)} real",
    ]
    if case.error:
        lines.append(f"harness error: {case.error}")
    if case.checks:
        lines.append("checks:")
        lines.extend(f"  {_check_line(check)}" for check in case.checks)
    if case.attempts:
        lines.append(f"attempts ({len(case.attempts)}):")
        lines.extend(
            f"  {cells.real_time(a.t)} {a.stage}: {a.reply if a.reply is not None else 'no reply'}"
            for a in case.attempts
        )
    if case.dsn is not None:
        dsn = case.dsn
        lines.append(
            f"DSN at {cells.real_time(dsn.t)}: {dsn.action} {dsn.status} for {dsn.final_recipient}"
            f" ({dsn.diagnostic_code or 'no Diagnostic-Code'})"
        )
    else:
        lines.append("no DSN came back")
    if case.journal_excerpt:
        lines.append("journal excerpt:")
        lines.extend(f"  {line}" for line in case.journal_excerpt)
    return "\n".join(lines)


def _check_line(check: Check) -> str:
    measured = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False, default=str)}"
        for key, value in check.measured.items()
    )
    line = f"[{check.level.value}] {check.clause}: {check.outcome.value}: {check.detail}"
    return f"{line} (measured: {measured})" if measured else line


def _property(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "property", name=name, value=_x(value))


def _wall_seconds(case: CaseResult) -> float:
    """Wall time observed: the real time observed divided by the time scale."""
    return case.observed_for / case.time_scale if case.time_scale else case.observed_for


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _x(text: str) -> str:
    """Text XML 1.0 can hold: control characters shown as escapes (ElementTree would write them
    raw, and every XML parser would then refuse the whole file)."""
    return printable(text)
