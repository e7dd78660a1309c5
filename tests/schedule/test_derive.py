"""derive_schedule on hand-built evidence: intervals, warning and give-up from DSNs or fates."""

from __future__ import annotations

import pytest

from harness.schedule import derive_schedule
from tests.schedule.builders import DAY, HOUR, MINUTE, evidence


def test_intervals_first_retry_and_cap_in_attempt_order() -> None:
    times = [0.0, 5 * MINUTE, 15 * MINUTE, 35 * MINUTE, 35 * MINUTE + 4000, 35 * MINUTE + 8000]
    schedule = derive_schedule(
        evidence(times), target="postfix", version="3.7", variant="4xx", time_scale=720
    )
    assert schedule.attempts == tuple(times)
    assert schedule.first_retry == 5 * MINUTE
    assert schedule.intervals == (300.0, 600.0, 1200.0, 4000.0, 4000.0)
    assert schedule.longest_interval == 4000.0
    assert schedule.median_interval == 1200.0
    assert schedule.warning is None
    assert schedule.give_up is None


def test_delayed_dsn_is_the_warning_and_failed_dsn_the_give_up() -> None:
    case = evidence(
        [0.0, HOUR], dsns=[(DAY, "delayed"), (5 * DAY, "failed")], bounced_at=5 * DAY + 10
    )
    schedule = derive_schedule(case, target="exim", version="4.96", variant="4xx", time_scale=720)
    assert schedule.warning == DAY
    assert schedule.give_up == 5 * DAY  # the DSN, not the later fate time


def test_bounced_fate_is_the_give_up_when_no_failure_dsn_came_back() -> None:
    case = evidence([0.0, HOUR], bounced_at=4 * DAY)
    schedule = derive_schedule(case, target="exim", version="4.96", variant="4xx", time_scale=720)
    assert schedule.give_up == 4 * DAY
    assert schedule.warning is None


@pytest.mark.parametrize("times", [[], [0.0]])
def test_fewer_than_two_attempts_have_no_intervals(times: list[float]) -> None:
    schedule = derive_schedule(
        evidence(times), target="postfix", version="3.7", variant="blackhole", time_scale=1440
    )
    assert schedule.first_retry is None
    assert schedule.longest_interval is None
    assert schedule.median_interval is None
    assert len(schedule.attempts) == len(times)
