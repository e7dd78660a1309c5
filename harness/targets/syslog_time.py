"""Syslog-style stamps (`Dec  4 23:10:00`): whole seconds, no year, no zone.

Postfix's `maillog_file` and the syslog daemon in the Sendmail image write them. The container's
zone is UTC. The year is the one that puts the stamp nearest to `near` (now, or the MTA's own
clock): a December line read in January belongs to last year, and a warped clock that has run
past New Year stamps `Jan  2` in the year ahead.
"""

from __future__ import annotations

from datetime import UTC, datetime

SYSLOG_STAMP_FORMAT = "%Y %b %d %H:%M:%S"


def syslog_time(stamp: str, near: datetime | None = None) -> datetime | None:
    """`stamp` as a UTC instant, in the year nearest to `near`; None when it is no stamp."""
    near = near or datetime.now(UTC)
    candidates = []
    for year in (near.year - 1, near.year, near.year + 1):
        try:
            parsed = datetime.strptime(f"{year} {stamp}", SYSLOG_STAMP_FORMAT)
        except ValueError:
            continue  # not a stamp, or 29 February in a year without one
        candidates.append(parsed.replace(tzinfo=UTC))
    if not candidates:
        return None
    return min(candidates, key=lambda parsed: abs((parsed - near).total_seconds()))
