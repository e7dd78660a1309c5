"""Did the MTA really run on the fast clock? Its own log against the receiver's.

A clock warp can fail silently: in the first Exim trial the daemon's timers ran on the fast
clock while the delivery processes it re-exec'd ran on the real one, and the run produced a
busy, plausible, wrong schedule (docs/clock-warp.md). So a warped schedule is trusted only when
every SMTP attempt the MTA *logged* (its deferral lines, stamped by its own clock and converted
back to real instants by the target) lies within a wall-clock tolerance of an attempt the
*receiver* saw. A process on the real clock stamps its lines (elapsed wall time) x (k - 1) late
in fast time, which the conversion turns into that much wall time early: after a few seconds of
a run, far outside the tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.report.model import Attempt
from harness.targets import LogRecord, Submission

#: Wall seconds: the MTA logs a deferral milliseconds after the reply; the clock's origin is
#: known to a docker exec's latency (tens of ms); stamps have whole fast seconds.
TOLERANCE = 1.0


def logged_attempts(logs: Sequence[LogRecord], sender: str) -> list[LogRecord]:
    """The MTA's lines for the message with envelope `sender` that record a connection to a
    host: Postfix's deferrals with a `relay=`, Exim's deferrals with `H=` and its host errors
    (process `H`: timeouts, refusals). Skipped retries (`retry time not reached`) name no host."""
    queue_ids = {r.queue_id for r in logs if r.queue_id and r.fields.get("from") == sender}
    return [
        r
        for r in logs
        if r.queue_id in queue_ids
        and r.time is not None
        and (
            r.process == "H"
            or (
                r.fields.get("status") == "deferred"
                and (r.fields.get("relay", "none") != "none" or "host" in r.fields)
            )
        )
    ]


def clock_inconsistency(
    logs: Sequence[LogRecord],
    submission: Submission,
    attempts: Sequence[Attempt],
    time_scale: float,
    tolerance: float = TOLERANCE,
) -> str | None:
    """None when the MTA's logged attempts match the receiver's on the warped clock; else why."""
    logged = logged_attempts(logs, submission.sender)
    if not logged:
        return "the MTA logged no attempt for the message: its clock cannot be checked"
    seen = [submission.wall + a.t / time_scale for a in attempts]
    if not seen:
        return "the receiver saw no attempt: the MTA's clock cannot be checked"
    off = []
    for record in logged:
        assert record.time is not None  # logged_attempts keeps stamped records only
        stamp = record.time.timestamp()
        nearest = min(abs(stamp - wall) for wall in seen)
        if nearest > tolerance:
            off.append(nearest)
    if not off:
        return None
    return (
        f"{len(off)} of {len(logged)} attempts the MTA logged are {max(off):.1f}s (wall) away "
        f"from any attempt the receiver saw: part of the MTA ran on another clock"
    )
