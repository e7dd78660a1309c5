"""What Debian's stock Postfix and Exim schedules must look like, from their documented
defaults; shared by the tests that measure them under a clock warp (matrix and schedule)."""

from __future__ import annotations

from typing import Any

HOUR, DAY = 3600.0, 86400.0


def assert_stock_postfix_schedule(schedule: dict[str, Any]) -> None:
    """Debian's Postfix defaults: backoff = the message's age, clamped to [300 s, 4000 s],
    applied at the next 300 s deferred-queue scan; give-up after 5 days; no delay warning."""
    assert 300 <= schedule["first_retry"] <= 25 * 60, schedule["intervals"][:5]
    assert 4000 - 300 <= schedule["median_interval"] <= 4000 + 2 * 300, schedule["intervals"]
    assert 4000 <= schedule["longest_interval"] <= 1.5 * HOUR, schedule["intervals"]
    assert 5 * DAY <= schedule["give_up"] <= 5 * DAY + 3 * HOUR
    assert schedule["warning"] is None
    assert 80 <= len(schedule["attempts"]) <= 130


def assert_stock_exim_schedule(schedule: dict[str, Any]) -> None:
    """Debian's Exim: retry rule F,2h,15m; G,16h,1h,1.5; F,4d,6h, a queue run every 30 min,
    delay_warning 24 h: retries every 15-45 min, then growing, then every 6 h to 6.5 h (plus
    scheduling slack), a warning after a day, give-up at the first attempt after 4 days.

    The longest interval depends on the phase: retry.c picks the rule by the time since the
    first failure when the attempt fails, and a G rule's next gap is the last one x1.5. A
    failure just before 16 h (about 15.9 h) still takes the G rule, 5.06 h x1.5 = 7.6 h, and
    the next queue run adds up to 30 min: 8.1 h. Just after 16 h it is 6 h to 6.5 h.
    """
    assert 15 * 60 <= schedule["first_retry"] <= HOUR, schedule["intervals"][:5]
    assert 6 * HOUR <= schedule["longest_interval"] <= 8.25 * HOUR, schedule["intervals"]
    assert DAY <= schedule["warning"] <= DAY + 2 * HOUR
    assert 4 * DAY <= schedule["give_up"] <= 4 * DAY + 7 * HOUR
    assert 15 <= len(schedule["attempts"]) <= 35
