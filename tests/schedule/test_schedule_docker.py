"""A short real schedule: Postfix against 451 at RCPT and against nothing listening, at
k = 7200 and 3600, until give-up; then Postfix with its stock configuration under a
clock warp, against the scaled configuration.

Five real days are 60 and 120 wall seconds there, so this measures the whole schedule in about
two minutes. (At k = 14400 the 6 s between give-up and the end of observation was a real day,
and under load the bounce once came after it.) At these scales Postfix's 300 s queue scan is 1 wall
second (x24 and x12) and its backoffs 2 (the floor in docs/schedules.md), so the scales may
disagree: then the report must name the parameter that distorts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stock_schedules import assert_stock_postfix_schedule

DAY = 86400.0
#: The warp at the scale it is compared with: 5 days in 60 s on both sides (the default x2880
#: would take 150 s; the quick matrix test measures Postfix at x2880 twice).
WARP_AGAINST_7200 = ["--variant", "4xx", "--time-scale", "7200", "--clock-warp", "7200"]


@pytest.mark.docker
def test_postfix_schedule_is_measured_and_validated(tmp_path: Path) -> None:
    arguments = ["--target", "postfix", "--no-clock-warp", "--reports", str(tmp_path)]
    variants = ["--variant", "4xx", "--variant", "refused"]
    scales = ["--time-scale", "7200", "--time-scale", "3600"]
    done = subprocess.run(
        [sys.executable, "-m", "harness", "schedule", *arguments, *variants, *scales],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    latest = tmp_path / "latest"
    data = json.loads((latest / "schedule.json").read_text())
    schedules = {(s["variant"], s["time_scale"]): s["schedule"] for s in data["schedules"]}
    assert set(schedules) == {(v, k) for v in ("4xx", "refused") for k in (7200, 3600)}
    for key, schedule in schedules.items():
        assert schedule["first_retry"] is not None, key
        assert schedule["give_up"] is not None, (key, schedule, done.stdout)
        assert 4 * DAY <= schedule["give_up"] <= 6 * DAY, key  # maximal_queue_lifetime 5d
        assert len(schedule["attempts"]) >= 10, key
    # Not a number to pin: the 2 s backoff is kept in a whole-second queue-file time and taken
    # a second early, so the retry comes 1 to 3 wall seconds after the failure.
    assert schedules[("4xx", 3600)]["first_retry"] > 0
    assert len(data["agreements"]) == 2
    for agreement in data["agreements"]:
        assert agreement["time_scales"] == [3600, 7200]
        for metric in agreement["metrics"]:
            assert metric["agrees"] or metric["explained_by"], metric
        give_up = next(m for m in agreement["metrics"] if m["name"] == "give_up")
        assert give_up["agrees"], give_up  # 5 days is whole wall seconds at both scales
    assert (latest / "schedule.svg").read_text().startswith("<svg")
    assert "## Agreement between time scales" in (latest / "schedule.md").read_text()


@pytest.mark.docker
def test_clock_warp_measures_the_stock_schedule_and_is_compared_with_scaled_config(
    tmp_path: Path,
) -> None:
    """Postfix only: the comparison is the same code for every target, and Exim's stock
    schedule under the warp (its 4 days are 3.2 wall minutes, the longest pole of the suite) is
    measured and asserted twice by the quick matrix test (tests/matrix/test_matrix_command.py)."""
    arguments = ["--target", "postfix", "--reports", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "harness", "schedule", *arguments, *WARP_AGAINST_7200],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "latest" / "schedule.json").read_text())
    runs = {(s["target"], s["schedule"]["method"]): s for s in data["schedules"]}
    assert set(runs) == {("postfix", m) for m in ("clock-warp", "scaled-config")}
    warped = runs[("postfix", "clock-warp")]
    assert warped["time_scale"] == 7200
    # The stock configuration: nothing distorted but what libfaketime itself distorts.
    assert warped["schedule"]["distorted_parameters"] == []
    assert_stock_postfix_schedule(warped["schedule"])
    [agreement] = data["agreements"]
    assert agreement["target"] == "postfix"
    assert "clock-warp" in agreement["methods"], agreement
    for metric in agreement["metrics"]:
        # At k = 7200 Postfix's 300 s become 1 wall second (x24): that must be named.
        assert metric["agrees"] or metric["explained_by"], metric
    give_up = next(m for m in agreement["metrics"] if m["name"] == "give_up")
    assert give_up["agrees"], give_up
