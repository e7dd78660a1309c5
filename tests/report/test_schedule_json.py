"""Retry schedules in the matrix: made from measured schedules, chosen per target, written into
matrix.json and read back, read from a schedule.json, shown in matrix.md and matrix.html."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import MailstormError, MatrixFormatError
from harness.report import load_baseline, render_html, render_markdown
from harness.report.cells import TIMES as X
from harness.report.schedule_reports import write_schedule_reports
from harness.results import (
    Check,
    Level,
    Matrix,
    MeasuredSchedule,
    Method,
    Outcome,
    ScheduleResults,
    attach_schedules,
    choose_schedule,
    matrix_to_json,
    read_matrix_json,
    read_schedule_json,
    write_matrix_json,
)
from harness.schedule import agreements
from harness.targets import scale_whole_seconds
from tests.report.builders import build_matrix, build_matrix_with_schedules
from tests.schedule.builders import DAY, HOUR, MINUTE, schedule

MUST_PASS = Check("RFC5321 4.5.4.1", Level.MUST, Outcome.PASS, "first retry after 24m")


def measured(
    k: float,
    *,
    target: str = "postfix",
    variant: str = "4xx",
    method: Method = Method.SCALED_CONFIG,
    error: str | None = None,
) -> MeasuredSchedule:
    """A measured Postfix-like schedule at scale `k`: first retry k seconds after the first."""
    found = schedule(
        [0.0, k, 3 * k, 5 * DAY - HOUR],
        time_scale=k,
        warning=DAY if variant == "blackhole" else None,
        give_up=5 * DAY + 30 * MINUTE,
        parameters=[scale_whole_seconds("minimal_backoff_time", 300, k)],
    )
    found = dataclasses.replace(
        found, target=target, variant=variant, method=method, checks=(MUST_PASS,)
    )
    if error is not None:
        return MeasuredSchedule(None, target, variant, k, error=error, method=method)
    return MeasuredSchedule(found, target, variant, k, method=method)


def test_a_measured_schedule_is_the_matrix_record() -> None:
    section = attach_schedules(build_matrix(), [measured(1440)]).targets[0].schedule
    assert section is not None
    assert (section.target, section.version, section.variant) == ("postfix", "3.7.11", "4xx")
    assert (section.method, section.time_scale) == ("scaled-config", 1440)
    assert section.attempts == (0.0, 1440, 4320, 5 * DAY - HOUR)
    assert section.first_retry == 1440
    assert section.longest_interval == 5 * DAY - HOUR - 4320
    assert section.give_up == 5 * DAY + 30 * MINUTE
    assert section.checks == (MUST_PASS,)
    [distorted] = section.distorted
    assert distorted.name == "minimal_backoff_time"
    assert distorted.effective_real_seconds == 1440  # 1 s of wall time at k = 1440
    assert distorted.distortion == pytest.approx(4.8)
    failed = attach_schedules(build_matrix(), [measured(1440, error="TargetError: boom")])
    assert failed.targets[0].schedule is None


def test_the_matrix_shows_the_4xx_variant_clock_warp_first_else_the_smallest_scale() -> None:
    runs = [
        measured(360, variant="blackhole"),
        measured(180, error="TargetError: boom"),
        measured(1440),
        measured(720),
        measured(2880, method=Method.CLOCK_WARP),
        measured(300, target="exim"),
    ]
    chosen = choose_schedule(runs, "postfix")
    assert chosen is not None
    assert chosen.schedule is not None
    assert (chosen.schedule.method, chosen.time_scale) == ("clock-warp", 2880)
    chosen = choose_schedule(runs[:4], "postfix")
    assert chosen is not None
    assert chosen.time_scale == 720  # the blackhole at 360 and the error at 180 do not count
    assert choose_schedule(runs, "opensmtpd") is None


def test_attach_schedules_fills_the_targets_it_has_schedules_for() -> None:
    matrix = build_matrix()
    attached = attach_schedules(matrix, [measured(1440), measured(720, target="opensmtpd")])
    postfix, exim = attached.targets
    assert postfix.schedule is not None
    assert postfix.schedule.time_scale == 1440
    assert exim.schedule is None
    assert attached.cases == matrix.cases
    assert dataclasses.replace(postfix, schedule=None) == matrix.targets[0]
    # a target without a new schedule keeps the one it had
    again = attach_schedules(attached, [])
    assert again == attached


def test_matrix_json_carries_the_schedule_in_real_seconds_and_reads_it_back(
    tmp_path: Path,
) -> None:
    matrix = build_matrix_with_schedules()
    path = write_matrix_json(matrix, tmp_path / "matrix.json")
    assert read_matrix_json(path) == matrix
    assert matrix_to_json(read_matrix_json(path)) == path.read_text(encoding="utf-8")
    data = json.loads(path.read_text(encoding="utf-8"))
    postfix, exim = (target["schedule"] for target in data["targets"])
    assert list(postfix)[:10] == [
        "target",
        "version",
        "variant",
        "method",
        "time_scale",
        "attempts",
        "first_retry",
        "intervals",
        "median_interval",
        "longest_interval",
    ]
    assert postfix["first_retry"] == 300
    assert postfix["longest_interval"] == 4000
    assert len(postfix["intervals"]) == len(postfix["attempts"]) - 1
    assert postfix["warning"] is None
    assert postfix["give_up"] == 5 * DAY + 30 * MINUTE
    assert postfix["checks"][1]["outcome"] == "deviation"
    assert postfix["distorted"][0]["effective_real_seconds"] == 1440
    assert (exim["method"], exim["time_scale"], exim["warning"]) == ("clock-warp", 2880, DAY - 240)
    # the derived values are not read: a stale one changes nothing
    postfix["first_retry"] = 1
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_matrix_json(path) == matrix


def test_a_matrix_json_without_schedules_still_reads_as_a_matrix_and_a_baseline(
    matrix: Matrix, tmp_path: Path
) -> None:
    data = json.loads(matrix_to_json(matrix))
    assert [target["schedule"] for target in data["targets"]] == [None, None]
    for target in data["targets"]:
        del target["schedule"]  # written before schedules were
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    assert read_matrix_json(old) == matrix
    with_schedules = write_matrix_json(build_matrix_with_schedules(), tmp_path / "new.json")
    assert load_baseline(with_schedules) == load_baseline(old)


def test_a_bad_schedule_in_matrix_json_is_named_by_its_path(tmp_path: Path) -> None:
    data = json.loads(matrix_to_json(build_matrix_with_schedules()))
    data["targets"][1]["schedule"]["attempts"][2] = "later"
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MatrixFormatError, match=r"targets\[1\]\.schedule\.attempts\[2\]"):
        read_matrix_json(path)


def write_schedule_json(tmp_path: Path, runs: list[MeasuredSchedule]) -> Path:
    results = ScheduleResults(tuple(runs), agreements(runs))
    return write_schedule_reports(results, tmp_path)["json"]


def test_schedule_json_reads_back_as_measured_schedules(tmp_path: Path) -> None:
    runs = [measured(1440), measured(2880, method=Method.CLOCK_WARP), measured(720, error="boom")]
    path = write_schedule_json(tmp_path, runs)
    again = read_schedule_json(path).measured
    assert again == tuple(runs)
    assert again[0].checks == (MUST_PASS,)
    assert again[0].schedule is not None
    assert runs[0].schedule is not None
    assert again[0].schedule.distorted == runs[0].schedule.distorted
    assert read_schedule_json(path) == ScheduleResults(tuple(runs), agreements(runs))
    attached = attach_schedules(build_matrix(), again)
    assert attached.targets[0].schedule is not None
    assert attached.targets[0].schedule.method == "clock-warp"


def test_a_schedule_json_without_method_is_scaled_config(tmp_path: Path) -> None:
    path = write_schedule_json(tmp_path, [measured(1440)])
    data = json.loads(path.read_text())
    del data["schedules"][0]["schedule"]["method"]  # written before clock warp existed
    path.write_text(json.dumps(data))
    [again] = read_schedule_json(path).measured
    assert again.schedule is not None
    assert again.schedule.method == "scaled-config"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", r"not JSON: .* line 1"),
        ('{"run_id": "x", "schema_version": 1}', "not a schedule.json written by mailstorm"),
        ('{"schedules": [{"target": "postfix"}]}', r"schedules\[0\]: the field 'variant'"),
        (
            '{"schedules": [{"target": "p", "variant": "4xx", "time_scale": 1, "schedule": '
            '{"target": "p", "version": "1", "variant": "4xx", "method": "time-travel", '
            '"time_scale": 1, "attempts": [0], "warning": null, "give_up": null, '
            '"observed_for": 9}}]}',
            r"schedules\[0\]\.schedule\.method: 'time-travel' is not one of 'scaled-config'",
        ),
    ],
)
def test_a_bad_schedule_json_is_one_clear_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "schedule.json"
    path.write_text(content)
    with pytest.raises(MailstormError, match=message) as caught:
        read_schedule_json(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_matrix_refuses_a_bad_schedules_file_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "schedule.json"
    bad.write_text("[]")
    reports = tmp_path / "reports"
    status = main(["matrix", "--schedules", str(bad), "--reports", str(reports)])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith(f"mailstorm: error: {bad}: ")
    assert error.count("\n") == 1
    assert not reports.exists()  # nothing was started


def test_markdown_has_a_retry_schedule_table_per_target_with_its_checks() -> None:
    text = render_markdown(build_matrix_with_schedules())
    section = text.split("## Retry schedules", 1)[1]
    postfix, exim = section.split("### ")[1:]
    assert postfix.startswith("postfix 3.7.11\n")
    assert f"| 5m | 1h6m40s | 1h6m40s | — | 5d30m | 111 | 4xx | scaled config {X}1440 |" in postfix
    assert f"minimal\\_backoff\\_time: default 5m, effectively 24m ({X}4.8)" in postfix
    assert "| RFC5321 4.5.4.1 | SHOULD | deviation | an interval of 5m is under 30 minutes |" in (
        postfix
    )
    assert f"| 23h56m | 4d5m | 27 | 4xx | clock warp {X}2880 |" in exim
    assert "## Retry schedules" not in render_markdown(build_matrix())


def test_html_has_one_schedule_timeline_per_target() -> None:
    matrix = build_matrix_with_schedules()
    page = render_html(matrix)
    section = page.split('<section id="schedules">', 1)[1].split("</section>", 1)[0]
    figures = re.findall(
        r'<figure class="target-schedule" data-target="(\w+)">(.*?)</figure>', section, re.S
    )
    assert [name for name, _ in figures] == ["postfix", "exim"]
    for (_, figure), target in zip(figures, matrix.targets, strict=True):
        assert target.schedule is not None
        assert figure.count('class="sc-attempt"') == len(target.schedule.attempts)
        days = re.findall(r'class="sc-day-label"[^>]*>([^<]+)<', figure)
        assert days == ["0d", "1d", "2d", "3d", "4d", "5d", "6d"]  # both axes: to 5d30m
        assert figure.count('class="sc-giveup"') == 1
        assert ">bounce " in figure
    assert ">warning 23h56m<" in figures[1][1]
    assert 'class="sc-warning"' not in figures[0][1]
    assert '<section id="schedules">' not in render_html(build_matrix())


def with_uncertainty(matrix: Matrix) -> Matrix:
    """`matrix` with its Postfix schedule carrying ± 48 min and its first-retry window."""
    targets = tuple(
        dataclasses.replace(
            t,
            schedule=dataclasses.replace(
                t.schedule, time_uncertainty=2880.0, first_retry_window=(0.0, 4320.0)
            ),
        )
        if t.name == "postfix" and t.schedule is not None
        else t
        for t in matrix.targets
    )
    return dataclasses.replace(matrix, targets=targets)


def test_a_schedules_uncertainty_and_window_are_written_read_back_and_shown(
    tmp_path: Path,
) -> None:
    matrix = with_uncertainty(build_matrix_with_schedules())
    path = write_matrix_json(matrix, tmp_path / "matrix.json")
    assert read_matrix_json(path) == matrix
    postfix = json.loads(path.read_text())["targets"][0]["schedule"]
    assert (postfix["time_uncertainty"], postfix["first_retry_window"]) == (2880, [0, 4320])
    section = render_markdown(matrix).split("## Retry schedules", 1)[1]
    assert "| 5m ± 48m | 1h6m40s ± 48m | 1h6m40s ± 48m | — | 5d30m ± 48m |" in section
    assert "Times: ± 48m: the MTA's whole-second clock handling" in section
    assert "first retry 0ms to 1h12m after a failure" in section
    page = render_html(matrix)
    assert "5d30m ± 48m" in page
    assert "this run drew 5m" in page
    runs = [measured(1440)]
    assert runs[0].schedule is not None
    runs = [
        dataclasses.replace(
            runs[0],
            schedule=dataclasses.replace(
                runs[0].schedule, time_uncertainty=2880.0, first_retry_window=(0.0, 4320.0)
            ),
        )
    ]
    again = read_schedule_json(write_schedule_json(tmp_path, runs)).measured
    assert again == tuple(runs)
    table = (tmp_path / "schedule.md").read_text()
    assert "| 0ms to 1h12m |" in table
    assert "| ± 48m |" in table


def test_a_window_that_is_not_two_numbers_is_named_by_its_path(tmp_path: Path) -> None:
    data = json.loads(matrix_to_json(with_uncertainty(build_matrix_with_schedules())))
    data["targets"][0]["schedule"]["first_retry_window"] = [1, 2, 3]
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MatrixFormatError, match=r"targets\[0\]\.schedule\.first_retry_window"):
        read_matrix_json(path)
