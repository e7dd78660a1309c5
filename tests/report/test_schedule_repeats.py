"""A schedule measured more than once: each run kept with its index, min to max over the runs
in schedule.json, schedule.md, matrix.json, matrix.md and matrix.html, compressions compared
within one run, and bad repeat counts refused before anything starts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.report import render_html, render_markdown
from harness.report.schedule_reports import write_schedule_reports
from harness.results import (
    Check,
    Level,
    MeasuredSchedule,
    Method,
    Outcome,
    ScheduleResults,
    Span,
    attach_schedules,
    choose_schedule,
    read_matrix_json,
    read_schedule_json,
    schedule_spreads,
    write_matrix_json,
)
from harness.schedule import agreements
from tests.report.builders import build_matrix
from tests.schedule.builders import DAY, HOUR, MINUTE, schedule


def check(name: str, outcome: Outcome) -> Check:
    return Check("RFC5321 4.5.4.1", Level.SHOULD, outcome, "x", {"check": name})


def run(
    repeat: int,
    first_retry: float,
    *,
    k: float = 2880,
    method: Method = Method.CLOCK_WARP,
    warning: float | None = None,
    interval: Outcome = Outcome.DEVIATION,
    u: float = 240.0,
) -> MeasuredSchedule:
    """One run of a warped Postfix-like measurement whose first retry is `first_retry`."""
    found = schedule(
        [0.0, first_retry, first_retry + HOUR, 5 * DAY - HOUR],
        time_scale=k,
        warning=warning,
        give_up=5 * DAY + repeat * MINUTE,
    )
    found = dataclasses.replace(
        found,
        method=method,
        time_uncertainty=u,
        first_retry_window=(300.0, 600.0),
        checks=(
            check("retry-delayed", Outcome.PASS),
            check("retry-interval-30m", interval),
        ),
    )
    return MeasuredSchedule(found, "postfix", "4xx", k, method=method, repeat=repeat)


def test_the_spread_is_min_to_max_of_the_runs_with_the_largest_uncertainty() -> None:
    runs = [
        run(0, 430.0, u=240.0),
        run(1, 330.0, u=300.0, warning=DAY, interval=Outcome.INCONCLUSIVE),
        MeasuredSchedule(
            None, "postfix", "4xx", 2880, "TargetError: boom", Method.CLOCK_WARP, repeat=2
        ),
        run(0, 1440.0, k=1440, method=Method.SCALED_CONFIG),  # one run only: no spread
    ]
    [spread] = schedule_spreads(runs)
    assert (spread.target, spread.method, spread.time_scale) == ("postfix", "clock-warp", 2880)
    assert (spread.runs, spread.failed_runs) == (2, 1)
    assert spread.span("first_retry") == Span(330.0, 430.0, 2)
    assert spread.span("give_up") == Span(5 * DAY, 5 * DAY + MINUTE, 2)
    assert spread.span("attempts") == Span(4, 4, 2)
    assert spread.span("warning") == Span(DAY, DAY, 1)  # one run had a warning
    assert spread.time_uncertainty == 300.0
    assert spread.first_retry_window == (300.0, 600.0)
    assert dict(spread.outcomes) == {
        "retry-delayed": (Outcome.PASS, Outcome.PASS),
        "retry-interval-30m": (Outcome.DEVIATION, Outcome.INCONCLUSIVE),
    }
    assert not spread.outcomes_agree
    assert schedule_spreads([run(0, 430.0)]) == ()
    assert schedule_spreads([runs[0], runs[2]]) == ()  # one measured, one failed: no spread


def test_compressions_are_compared_within_one_run() -> None:
    runs = [
        run(r, 400.0 + r, k=k, method=m)
        for r in (0, 1)
        for k, m in ((2880, Method.CLOCK_WARP), (1440, Method.SCALED_CONFIG))
    ]
    found = agreements(runs)
    assert [(a.repeat, a.methods) for a in found] == [
        (0, ("scaled-config", "clock-warp")),
        (1, ("scaled-config", "clock-warp")),
    ]
    first_retry = next(m for m in found[1].metrics if m.name == "first_retry")
    assert first_retry.values == (401.0, 401.0)  # run 2 against run 2, not against run 1


def test_schedule_json_and_md_keep_every_run_and_show_min_to_max(tmp_path: Path) -> None:
    runs = [run(0, 430.0), run(1, 330.0, interval=Outcome.INCONCLUSIVE)]
    results = ScheduleResults(tuple(runs), agreements(runs))
    written = write_schedule_reports(results, tmp_path)
    assert read_schedule_json(written["json"]) == results
    assert [s["repeat"] for s in json.loads(written["json"].read_text())["schedules"]] == [0, 1]
    text = written["markdown"].read_text()
    assert "| warp x2880 run 1 |" in text
    assert "| warp x2880 run 2 |" in text
    spread = text.split("## Over the runs (min to max)", 1)[1].split("## ", 1)[0]
    assert (
        "| postfix 3.7.11 | 4xx | warp x2880 | 2 | 4 | 5m30s to 7m10s ± 4m | 5m to 10m |" in spread
    )
    assert "| 5d to 5d1m ± 4m |" in spread
    assert "retry-interval-30m: deviation, inconclusive" in spread
    svg = written["svg"].read_text()
    assert "postfix 3.7.11 4xx warp x2880 run 2: 4 attempts" in svg


def test_a_single_run_has_no_run_labels_and_no_spread(tmp_path: Path) -> None:
    runs = [run(0, 430.0)]
    text = write_schedule_reports(ScheduleResults(tuple(runs)), tmp_path)["markdown"].read_text()
    assert "run 1" not in text
    assert "## Over the runs" not in text


def test_the_matrix_shows_the_first_run_and_the_spread_of_all(tmp_path: Path) -> None:
    runs = [run(1, 330.0), run(0, 430.0)]
    chosen = choose_schedule(runs, "postfix")
    assert chosen is not None
    assert chosen.repeat == 0
    matrix = attach_schedules(build_matrix(), runs)
    postfix = matrix.targets[0]
    assert postfix.schedule is not None
    assert postfix.schedule.first_retry == 430.0
    assert postfix.schedule_spread is not None
    assert postfix.schedule_spread.span("first_retry") == Span(330.0, 430.0, 2)
    assert matrix.targets[1].schedule_spread is None
    path = write_matrix_json(matrix, tmp_path / "matrix.json")
    assert read_matrix_json(path) == matrix
    raw = json.loads(path.read_text())["targets"][0]["schedule_spread"]
    assert raw["runs"] == 2
    assert raw["spans"]["first_retry"] == {"low": 330.0, "high": 430.0, "of_runs": 2}
    assert raw["outcomes"]["retry-interval-30m"] == ["deviation", "deviation"]
    section = render_markdown(matrix).split("## Retry schedules", 1)[1].split("### exim", 1)[0]
    assert "| run 1 | 7m10s ± 4m |" in section
    assert "| min to max of 2 runs | 5m30s to 7m10s ± 4m |" in section
    assert "its 2 runs drew 5m30s to 7m10s" in section
    assert "every check came out the same in every run" in section
    page = render_html(matrix)
    assert "<th>min to max of 2 runs</th><td>5m30s to 7m10s ± 4m</td>" in page
    # One run only: the matrix has no spread, as before.
    single = attach_schedules(build_matrix(), [run(0, 430.0)])
    assert single.targets[0].schedule_spread is None
    assert "min to max" not in render_markdown(single)


@pytest.mark.parametrize(
    "arguments",
    [["schedule", "--repeat", "0"], ["matrix", "--schedule-repeats", "0"]],
)
def test_a_repeat_count_below_one_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    reports = tmp_path / "reports"
    status = main([*arguments, "--reports", str(reports)])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("mailstorm: error: --")
    assert "N must be at least 1" in error
    assert error.count("\n") == 1
    assert not reports.exists()


def test_only_clock_warp_refuses_a_time_scale_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    status = main(
        ["schedule", "--only-clock-warp", "--time-scale", "60", "--reports", str(reports)]
    )
    error = capsys.readouterr().err
    assert status == 2
    assert error == (
        "mailstorm: error: --only-clock-warp measures no scaled configuration: drop --time-scale\n"
    )
    assert not reports.exists()
