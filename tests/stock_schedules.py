"""What Debian's stock schedules must look like, from their documented defaults; shared by the
tests that measure them under a clock warp (matrix and schedule) and the one that reads the
committed reference."""

from __future__ import annotations

from typing import Any

HOUR, DAY = 3600.0, 86400.0


def _within(schedule: dict[str, Any], name: str, low: float, high: float) -> None:
    """`low <= value <= high` within the run's own ± (`time_uncertainty`, measured: K times
    the longest wall-clock cost of one attempt). Under a warp a host stall of 1.7 s during one
    attempt is 1.4 h at x2880; the harness states it, and a bound is judged as the checks
    judge it, on the measurement and its uncertainty."""
    value, u = schedule[name], schedule["time_uncertainty"] or 0.0
    assert low - u <= value <= high + u, (name, value, u, schedule["intervals"])


def assert_stock_postfix_schedule(schedule: dict[str, Any]) -> None:
    """Debian's Postfix defaults: backoff = the message's age, clamped to [300 s, 4000 s],
    applied at the next 300 s deferred-queue scan; give-up after 5 days; no delay warning."""
    _within(schedule, "first_retry", 300, 25 * 60)
    _within(schedule, "median_interval", 4000 - 300, 4000 + 2 * 300)
    _within(schedule, "longest_interval", 4000, 1.5 * HOUR)
    _within(schedule, "give_up", 5 * DAY, 5 * DAY + 3 * HOUR)
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
    _within(schedule, "first_retry", 15 * 60, HOUR)
    _within(schedule, "longest_interval", 6 * HOUR, 8.25 * HOUR)
    _within(schedule, "warning", DAY, DAY + 2 * HOUR)
    _within(schedule, "give_up", 4 * DAY, 4 * DAY + 7 * HOUR)
    assert 15 <= len(schedule["attempts"]) <= 35


def assert_stock_opensmtpd_schedule(schedule: dict[str, Any]) -> None:
    """OpenSMTPD's compiled-in schedule: retries at creation + 400 s x n² (scheduler_ramqueue.c),
    so 6m40s after the first failure and then ever longer, up to 6h20m (n = 29 to 28) before the
    4-day `queue ttl` expires it; the delay warning goes out at the first temporary failure whose
    next try falls at or after 4 h (scheduler.c, IMSG_QUEUE_DELIVERY_TEMPFAIL): the 2h46m40s
    attempt, whose next try is at 4 h."""
    _within(schedule, "first_retry", 400, 400 + 60)
    _within(schedule, "longest_interval", 400 * (29**2 - 28**2), 6.5 * HOUR)
    _within(schedule, "warning", 400 * 5**2, 4 * HOUR)
    _within(schedule, "give_up", 4 * DAY, 4 * DAY + HOUR)
    assert 28 <= len(schedule["attempts"]) <= 32


def assert_stock_sendmail_schedule(schedule: dict[str, Any]) -> None:
    """Debian's Sendmail: a queue run every 10 minutes (QUEUE_INTERVAL) tries every queued
    message (no MinQueueAge), so retries come 0 to 10 minutes after a failure and then every
    10 minutes, plus the run's own time; the delay warning at the first run after 4 h
    (Timeout.queuewarn), the return at the first after 5 days (Timeout.queuereturn): about
    720 attempts."""
    _within(schedule, "first_retry", 0, 10 * 60 + 60)
    _within(schedule, "longest_interval", 10 * 60, 10 * 60 + 3 * 60)
    _within(schedule, "warning", 4 * HOUR, 4 * HOUR + 15 * 60)
    _within(schedule, "give_up", 5 * DAY, 5 * DAY + 15 * 60)
    assert 690 <= len(schedule["attempts"]) <= 730


def assert_stock_nullmailer_schedule(schedule: dict[str, Any]) -> None:
    """nullmailer's defaults (send.cc): a pass over the queue, then a pause of `pausetime`
    (60 s) that doubles after every pass up to `maxpause` (24 h): retries 1, 3, 7, 15 ... minutes
    after the first failure, once a day from 34 h (each pass's own time, a session and a
    rescan, adds a little); 17 attempts in the 7 days observed. `queuelifetime` (7 days) ends
    where observation does, and its give-up comes at the next failed pass, up to a day later:
    not seen. No delay warning."""
    _within(schedule, "first_retry", 60, 2 * 60)
    _within(schedule, "longest_interval", DAY, DAY + 10 * 60)
    assert schedule["warning"] is None
    assert schedule["give_up"] is None
    assert 16 <= len(schedule["attempts"]) <= 18


def assert_stock_dma_schedule(schedule: dict[str, Any]) -> None:
    """Debian's dma (dma.h, dma.c; /etc/cron.d/dma): the cron job's `dma -q` every 5 minutes
    wakes the sleeping delivery at the end of its 30-s nap with the backoff reset, so retries
    come every 5 minutes, a nap more at most (10 when a flush came during an attempt, which
    the nap after it does not see), and dma's own lengthening pauses never run; the
    give-up at the first failure after 5 days (MAX_TIMEOUT), so about 1440 attempts. No delay
    warning."""
    _within(schedule, "first_retry", 30, 5 * 60 + 60)
    # a flush that came during an attempt is missed, and the next is 5 minutes later
    _within(schedule, "longest_interval", 5 * 60, 11 * 60)
    assert schedule["warning"] is None
    _within(schedule, "give_up", 5 * DAY, 5 * DAY + 10 * 60)
    assert 1400 <= len(schedule["attempts"]) <= 1480


def assert_stock_haraka_schedule(schedule: dict[str, Any]) -> None:
    """Haraka's outbound defaults (outbound/config.js): the n-th deferral waits 2^(n+5) s,
    counted from the deferral, 13 failures in all: retries 64 s to 36.4 h apart, the give-up
    at the 13th, 2^18 - 64 s = 72.8 h after the first plus the twelve attempts' own time. No
    delay warning."""
    _within(schedule, "first_retry", 64, 64 + 60)
    _within(schedule, "longest_interval", 2**17, 2**17 + 60)
    _within(schedule, "give_up", 2**18 - 64, 2**18 - 64 + 12 * 60)
    assert schedule["warning"] is None
    assert len(schedule["attempts"]) == 13


#: The stock schedule check of each bundled target with a queue, by name.
STOCK_SCHEDULE_CHECKS = {
    "postfix": assert_stock_postfix_schedule,
    "exim": assert_stock_exim_schedule,
    "opensmtpd": assert_stock_opensmtpd_schedule,
    "sendmail": assert_stock_sendmail_schedule,
    "nullmailer": assert_stock_nullmailer_schedule,
    "dma": assert_stock_dma_schedule,
    "haraka": assert_stock_haraka_schedule,
}
