"""schedule.json, schedule.md and schedule.svg from hand-built results; the public API."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.cli import build_parser
from harness.report.schedule_reports import write_schedule_reports
from harness.results import MeasuredSchedule, ScheduleResults
from harness.schedule import agreements
from harness.targets import scale_whole_seconds
from tests.schedule.builders import DAY, HOUR, schedule


def results() -> ScheduleResults:
    measured = [
        MeasuredSchedule(
            schedule(
                [0.0, k * 2, k * 4, 5 * DAY - HOUR],
                time_scale=k,
                warning=DAY if k == 720 else None,
                give_up=5 * DAY,
                parameters=[scale_whole_seconds("minimal_backoff_time", 300, k)],
            ),
            "postfix",
            "4xx",
            k,
        )
        for k in (720, 1440)
    ]
    measured.append(MeasuredSchedule(None, "exim", "4xx", 720, error="TargetError: boom"))
    return ScheduleResults(tuple(measured), agreements(measured))


def test_reports_carry_schedules_agreement_and_errors(tmp_path: Path) -> None:
    paths = write_schedule_reports(results(), tmp_path)
    data = json.loads(paths["json"].read_text())
    first = data["schedules"][0]["schedule"]
    assert first["first_retry"] == 1440
    assert first["give_up"] == 5 * DAY
    assert first["distorted_parameters"][0]["name"] == "minimal_backoff_time"
    assert data["schedules"][2]["error"] == "TargetError: boom"
    [agreement] = data["agreements"]
    warning = next(m for m in agreement["metrics"] if m["name"] == "warning")
    assert warning["agrees"] is False
    assert warning["explained_by"]  # minimal_backoff_time differs between the scales
    markdown = paths["markdown"].read_text()
    assert "postfix 4xx: k=720 vs k=1440 (disagree)" in markdown
    assert "error: TargetError: boom" in markdown
    svg = ET.fromstring(paths["svg"].read_text())
    titles = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("delay warning (DSN) at +1d") for t in titles)
    assert sum(t.startswith("gave up") for t in titles) == 2
    assert sum(t.startswith("attempt ") for t in titles) == 8


def test_the_command_is_registered() -> None:
    arguments = build_parser().parse_args(
        ["schedule", "--target", "postfix", "--variant", "blackhole", "--time-scale", "60"]
    )
    assert arguments.target == ["postfix"]
    assert arguments.variant == ["blackhole"]
    assert arguments.time_scale == [60.0]
