"""Syslog stamps have no year: the one nearest the reading clock is theirs."""

from __future__ import annotations

from datetime import UTC, datetime

from harness.targets.syslog_time import syslog_time


def test_a_december_line_read_in_january_is_last_years() -> None:
    near = datetime(2027, 1, 2, 10, 0, tzinfo=UTC)
    assert syslog_time("Dec 31 23:59:59", near) == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_a_warped_clock_past_new_year_stamps_the_year_ahead() -> None:
    near = datetime(2027, 1, 3, tzinfo=UTC)  # the warped clock, days past New Year
    assert syslog_time("Jan  2 04:00:00", near) == datetime(2027, 1, 2, 4, tzinfo=UTC)
    december = datetime(2026, 12, 30, tzinfo=UTC)  # read before the clock crossed it
    assert syslog_time("Jan  2 04:00:00", december) == datetime(2027, 1, 2, 4, tzinfo=UTC)


def test_no_stamp_is_none() -> None:
    assert syslog_time("not a stamp") is None
    assert syslog_time("Feb 29 12:00:00", datetime(2027, 3, 1, tzinfo=UTC)) == datetime(
        2028, 2, 29, 12, tzinfo=UTC
    )  # only a leap year has it: the nearest one that does
