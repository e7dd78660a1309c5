"""Comparing two scales' schedules: tolerance, missing metrics, and naming the distorting
parameter."""

from __future__ import annotations

import pytest

from harness.results import Agreement, MeasuredSchedule
from harness.schedule import agreements, compare
from harness.targets import ScaledParameter, scale_whole_seconds
from tests.schedule.builders import DAY, HOUR, MINUTE, schedule

BACKOFF = 300.0  # Postfix minimal_backoff_time


def postfix_parameters(k: float) -> list[ScaledParameter]:
    return [
        scale_whole_seconds("minimal_backoff_time", BACKOFF, k),
        scale_whole_seconds("maximal_queue_lifetime", 5 * DAY, k),
        scale_whole_seconds("smtp_helo_timeout", 300, k),
    ]


def metric(agreement: Agreement, name: str) -> tuple[bool, tuple[str, ...]]:
    found = next(m for m in agreement.metrics if m.name == name)
    return found.agrees, found.explained_by


def test_the_same_schedule_at_two_scales_agrees_within_jitter() -> None:
    times = [0.0, 1 * HOUR, 2 * HOUR, 3 * HOUR]
    fine = schedule(times, time_scale=720, give_up=5 * DAY)
    coarse = schedule([t * 1.05 for t in times], time_scale=1440, give_up=5 * DAY + 1440)
    agreement = compare(coarse, fine)  # either order: the smaller k is "fine"
    assert agreement.time_scales == (720, 1440)
    assert agreement.agrees, agreement


def test_tolerance_is_ten_percent_or_one_unscaled_queue_scan() -> None:
    # 20 minutes apart on a 1 h retry is over 10%: no agreement without a queue scan...
    fine = schedule([0.0, HOUR], time_scale=720)
    coarse = schedule([0.0, HOUR + 20 * MINUTE], time_scale=1440)
    assert not metric(compare(fine, coarse), "first_retry")[0]
    # ...but with Exim's 30-minute queue runner (unscaled) it is within one scan.
    runner = [scale_whole_seconds("queue_interval", 30 * MINUTE, 1440)]
    scanned = schedule([0.0, HOUR + 20 * MINUTE], time_scale=1440, parameters=runner)
    assert metric(compare(fine, scanned), "first_retry")[0]
    # 5% apart agrees on its own.
    close = schedule([0.0, 1.05 * HOUR], time_scale=1440)
    assert metric(compare(fine, close), "first_retry") == (True, ())


def test_a_disagreement_names_the_parameter_whose_distortion_differs() -> None:
    # At k=14400 minimal_backoff_time (300 s) becomes 1 s wall = 4 real hours; at 7200, 2 hours.
    fine = schedule([0.0, 2 * HOUR], time_scale=7200, parameters=postfix_parameters(7200))
    coarse = schedule([0.0, 8 * HOUR], time_scale=14400, parameters=postfix_parameters(14400))
    agrees, explained = metric(compare(fine, coarse), "first_retry")
    assert not agrees
    assert len(explained) == 1
    assert explained[0].startswith("minimal_backoff_time x24 at k=7200 vs x48 at k=14400")


def test_unrelated_differing_parameters_are_named_only_when_no_driver_differs() -> None:
    timeouts = [scale_whole_seconds("smtp_helo_timeout", 300, k) for k in (7200, 14400)]
    fine = schedule([0.0, 2 * HOUR], time_scale=7200, parameters=timeouts[:1])
    coarse = schedule([0.0, 8 * HOUR], time_scale=14400, parameters=timeouts[1:])
    _, explained = metric(compare(fine, coarse), "first_retry")
    assert explained == ("smtp_helo_timeout x24 at k=7200 vs x48 at k=14400",)
    exact = schedule([0.0, 8 * HOUR], time_scale=14400)
    assert metric(compare(schedule([0.0, 2 * HOUR], time_scale=7200), exact), "first_retry") == (
        False,
        (),
    )


@pytest.mark.parametrize(
    ("a", "b", "agrees"), [(None, None, True), (DAY, None, False), (None, DAY, False)]
)
def test_a_metric_missing_at_one_scale_disagrees(
    a: float | None, b: float | None, agrees: bool
) -> None:
    fine = schedule([0.0], time_scale=720, warning=a)
    coarse = schedule([0.0], time_scale=1440, warning=b)
    assert metric(compare(fine, coarse), "warning")[0] is agrees


def test_attempt_counts_may_differ_by_one() -> None:
    fine = schedule([0.0, HOUR, 2 * HOUR], time_scale=720)
    assert metric(compare(fine, schedule([0.0, HOUR], time_scale=1440)), "attempts")[0]
    assert not metric(compare(fine, schedule([0.0], time_scale=1440)), "attempts")[0]


def test_different_targets_are_not_compared() -> None:
    other = schedule([0.0], time_scale=1440)
    other = type(other)(**{**other.__dict__, "target": "exim"})
    with pytest.raises(ValueError, match="comparing"):
        compare(schedule([0.0], time_scale=720), other)


def test_agreements_pair_each_smaller_scale_with_the_largest_and_skip_errors() -> None:
    measured = [
        MeasuredSchedule(schedule([0.0], time_scale=k), "postfix", "4xx", k) for k in (360, 720)
    ]
    measured.append(MeasuredSchedule(None, "postfix", "4xx", 1440, error="boom"))
    found = agreements(measured)
    assert [a.time_scales for a in found] == [(360, 720)]
