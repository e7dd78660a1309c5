"""schedule-<target>.svg and .png beside matrix.json, and schedule.png of `mailstorm schedule`:
really drawn (matplotlib's Agg, our SVG), then read back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report import write_reports
from harness.report.schedule_reports import write_schedule_reports
from harness.results import Matrix, MeasuredSchedule, ScheduleResults
from tests.report.builders import build_matrix_with_schedules
from tests.report.images import png_size
from tests.schedule.builders import DAY, HOUR, schedule

SVG = "{http://www.w3.org/2000/svg}"


def test_write_reports_draws_each_targets_schedule(tmp_path: Path) -> None:
    matrix = build_matrix_with_schedules()
    paths = write_reports(matrix, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "junit.xml",
            "matrix.html",
            "matrix.json",
            "matrix.md",
            "schedule-exim.png",
            "schedule-exim.svg",
            "schedule-postfix.png",
            "schedule-postfix.svg",
        ]
    )
    assert paths["schedule postfix png"] == tmp_path / "schedule-postfix.png"
    for target in matrix.targets:
        assert target.schedule is not None
        svg = ET.parse(tmp_path / f"schedule-{target.name}.svg").getroot()
        assert svg.tag == f"{SVG}svg"
        ticks = [e for e in svg.iter(f"{SVG}line") if e.get("class") == "sc-attempt"]
        assert len(ticks) == len(target.schedule.attempts)
        assert svg.get("data-attempts") == str(len(target.schedule.attempts))
        labels = [e.text for e in svg.iter(f"{SVG}text") if e.get("class") == "sc-day-label"]
        assert labels == [f"{day}d" for day in range(7)]  # one axis for both: Postfix's 5d30m
        texts = "".join(svg.itertext())
        assert "bounce " in texts
        assert f"retry schedule of {target.name} {target.schedule.version}" in texts
        png = (tmp_path / f"schedule-{target.name}.png").read_bytes()
        width, height = png_size(png)
        assert width >= 800
        assert height >= 150
        assert width > 3 * height  # a strip, one row
        assert len(png) > 10_000  # drawn, not blank


def test_no_schedule_no_schedule_files(matrix: Matrix, tmp_path: Path) -> None:
    paths = write_reports(matrix, tmp_path)
    assert not any(name.startswith("schedule") for name in paths)
    assert not list(tmp_path.glob("schedule-*"))


def test_the_schedule_command_writes_a_png_too(tmp_path: Path) -> None:
    runs = tuple(
        MeasuredSchedule(
            schedule([0.0, k, 3 * k, 4 * DAY], time_scale=k, warning=DAY, give_up=5 * DAY + HOUR),
            "postfix",
            "4xx",
            k,
        )
        for k in (720, 1440)
    )
    paths = write_schedule_reports(ScheduleResults(runs), tmp_path)
    assert paths["png"] == tmp_path / "schedule.png"
    width, two_rows = png_size(paths["png"].read_bytes())
    assert width >= 800
    more = write_schedule_reports(ScheduleResults(runs * 3), tmp_path)
    assert png_size(more["png"].read_bytes())[1] > two_rows  # a row per (target, variant, scale)
