"""Did the MTA really run on the fast clock, and did the receiver see all its attempts?

Both questions compare the MTA's own log (its stamps, converted back to real instants by the
target) with the receiver's sessions.

A clock warp can fail silently: in the first Exim trial the daemon's timers ran on the fast
clock while the delivery processes it re-exec'd ran on the real one, and the run produced a
busy, plausible, wrong schedule (docs/clock-warp.md). So a warped schedule is trusted only when
every attempt the MTA logged *with the receiver's reply or a session at it* lies within a
wall-clock tolerance of a session the receiver saw, from its start to its end: the MTA logs a
deferral on the reply, inside the session, so a session that load stretched to seconds still
matches its line. A process on the real clock stamps its lines (elapsed wall time) x (k - 1)
late in fast time, which the conversion turns into that much wall time early: after a few
seconds of a run, far outside the tolerance.

Under a warp the MTA's connect timeout is tens of milliseconds of wall time (Postfix's 30 s at
x2880 is 10 ms), so on a loaded host an attempt can time out before the receiver accepts the
connection. The MTA tried; the receiver never knew. Such connection-level failures in the log
are attempts of the schedule all the same (`unseen_attempts`), and the report counts them.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harness.ledger.ledger import CaseEvidence
from harness.results import Attempt
from harness.targets import (
    DECISION_FIELD,
    HELD_FIELD,
    REFUSED_FIELD,
    LogRecord,
    SenderTarget,
    Submission,
    queue_ids_of,
)
from harness.targets.clock_warp import ClockWarpError

#: Wall seconds: the MTA logs a deferral milliseconds after the reply; the clock's origin is
#: known to a docker exec's latency (tens of ms); stamps have whole fast seconds.
TOLERANCE = 1.0


@dataclass(frozen=True)
class LoggedAttempt:
    """One attempt in the MTA's log: when (real instant), and whether it reached the receiver."""

    wall: float
    reached_receiver: bool
    text: str


def logged_attempts(logs: Sequence[LogRecord], sender: str) -> list[LoggedAttempt]:
    """The attempts the MTA logged for the message with envelope `sender`.

    Postfix: a `status=deferred` line per attempt; with a `relay=` host it talked to the
    receiver, with `relay=none` and `connect to ...` it failed to connect (`delivery temporarily
    suspended` is no attempt: Postfix skipping a destination it marked dead). Exim: a deferral
    (`==`) naming a host `H=` after the receiver answered; a host error line (process `H`) for
    a connection that failed (`... Connection refused/timed out`) or timed out in the session
    (`SMTP timeout ...`, which reached the receiver). `retry time not reached` names no host.
    """
    queue_ids = queue_ids_of(logs, sender)
    return [
        attempt
        for r in logs
        if r.queue_id in queue_ids and (attempt := _logged_attempt(r)) is not None
    ]


def _logged_attempt(r: LogRecord) -> LoggedAttempt | None:
    """The attempt a log record reports (see `logged_attempts`), or None."""
    if r.time is None:
        return None
    wall = r.time.timestamp()
    marked = r.fields.get(REFUSED_FIELD[0])
    if marked == HELD_FIELD[1]:
        return None  # deferred without a connection: no attempt
    if marked == REFUSED_FIELD[1]:
        return LoggedAttempt(wall, False, r.text)
    if r.process == "H":
        return LoggedAttempt(wall, "SMTP" in r.text, r.text)
    if r.fields.get("status") == "deferred" and "suspended" not in r.text:
        relay = r.fields.get("relay", "none")
        if relay != "none" or ("host" in r.fields and r.process == "=="):
            return LoggedAttempt(wall, True, r.text)
        if relay == "none" and "connect to " in r.text:
            return LoggedAttempt(wall, False, r.text)
    return None


def _seen_walls(submission: Submission, attempts: Sequence[Attempt], k: float) -> list[float]:
    return [submission.wall + a.t / k for a in attempts]


def _seen_sessions(
    submission: Submission, attempts: Sequence[Attempt], k: float
) -> list[tuple[float, float]]:
    """Each session the receiver saw, as (start, end) in wall time."""
    return [
        (start, start + a.duration / k)
        for a, start in zip(attempts, _seen_walls(submission, attempts, k), strict=True)
    ]


def _outside(wall: float, session: tuple[float, float]) -> float:
    """Wall seconds from `wall` to the session: 0 inside it."""
    start, end = session
    return max(0.0, start - wall, wall - end)


def clock_inconsistency(
    logs: Sequence[LogRecord],
    submission: Submission,
    attempts: Sequence[Attempt],
    time_scale: float,
    tolerance: float = TOLERANCE,
) -> str | None:
    """None when the MTA's logged sessions match the receiver's on the warped clock; else why."""
    logged = [a for a in logged_attempts(logs, submission.sender) if a.reached_receiver]
    if not logged:
        return "the MTA logged no session with the receiver: its clock cannot be checked"
    sessions = _seen_sessions(submission, attempts, time_scale)
    if not sessions:
        return "the receiver saw no attempt: the MTA's clock cannot be checked"
    # A line logged during a session (the MTA logs a deferral on the reply, before QUIT) is
    # inside it: a session slowed down by load is not another clock.
    off = [
        (d, a, nearest)
        for a in logged
        if (d := _outside(a.wall, nearest := min(sessions, key=lambda s: _outside(a.wall, s))))
        > tolerance
    ]
    if not off:
        return None
    worst, line, (start, end) = max(off, key=lambda o: o[0])
    return (
        f"{len(off)} of {len(logged)} sessions the MTA logged are up to {worst:.1f}s (wall) away "
        f"from any the receiver saw: part of the MTA ran on another clock (the worst, logged "
        f"{line.wall - submission.wall:.2f}s after submission, nearest session "
        f"{start - submission.wall:.2f}s to {end - submission.wall:.2f}s: {line.text})"
    )


def unseen_attempts(
    logs: Sequence[LogRecord],
    submission: Submission,
    attempts: Sequence[Attempt],
    time_scale: float,
    tolerance: float = TOLERANCE,
) -> tuple[Attempt, ...]:
    """Connection attempts the MTA logged that never reached the receiver, as attempts in real
    seconds since the submission (stage `connect`, no reply, listener `mta-log`)."""
    sessions = _seen_sessions(submission, attempts, time_scale)
    return tuple(
        Attempt(
            t=max(0.0, (a.wall - submission.wall) * time_scale),
            stage="connect",
            reply=None,
            message_id=submission.message_id,
            listener="mta-log",
        )
        for a in logged_attempts(logs, submission.sender)
        if not a.reached_receiver and all(_outside(a.wall, s) > tolerance for s in sessions)
    )


#: Postfix's qmgr line when it moves a message into the active queue: its decision to try it.
QUEUE_ACTIVE = "(queue active)"
#: Exim's queue runner's first line (`log_selector` `queue_run`, on by default; queue.c
#: `queue_run`): every retry is made by a queue run, so its start is the decision to try.
QUEUE_RUN_START = "Start queue run"


def warp_uncertainty(
    logs: Sequence[LogRecord],
    submission: Submission,
    attempts: Sequence[Attempt],
    time_scale: float,
    slack: float,
) -> float | None:
    """± real seconds on the times of a warped schedule, measured in the run: K times the
    longest wall-clock cost of one attempt, plus the MTA's own whole-second `slack`.

    An attempt's cost is measured on both sides of the session: from the MTA's decision to
    try to the session's start at the receiver, and from that start to the log line that
    records its outcome (the connection, the replies, the logging). The decision is Postfix's
    qmgr `(queue active)` line for the message; for Exim, which logs nothing per message
    before it connects, the start of the queue run that made the retry (the latest `Start
    queue run` before the session; the first attempt is the immediate delivery, no queue
    run's), and the lateness of the queue runner's ticks (`queue_tick_lateness`) on top. Every
    real cost is stretched by K: a 50 ms fork is 2.4 minutes at x2880. None when no logged
    attempt reached the receiver.
    """
    logged = [a for a in logged_attempts(logs, submission.sender) if a.reached_receiver]
    seen = _seen_walls(submission, attempts, time_scale)
    if not logged or not seen:
        return None
    cost = max(min(abs(a.wall - w) for w in seen) for a in logged)
    sender = submission.sender
    queue_ids = queue_ids_of(logs, sender)
    ours = sorted(
        (r for r in logs if r.queue_id in queue_ids and r.time is not None),
        key=lambda r: r.time.timestamp() if r.time else 0.0,
    )
    decided: float | None = None
    for record in ours:
        if record.time is not None and (
            QUEUE_ACTIVE in record.text or record.fields.get(DECISION_FIELD[0]) == DECISION_FIELD[1]
        ):
            decided = record.time.timestamp()
        elif decided is not None and (attempt := _logged_attempt(record)) is not None:
            # the attempt this activation led to: its session is the one nearest its outcome
            if attempt.reached_receiver:
                session = min(seen, key=lambda w: abs(w - attempt.wall))
                cost = max(cost, session - decided)
            decided = None
    runs = _queue_run_starts(logs)
    cost = max(cost, _queue_run_cost(runs, seen)) + queue_tick_lateness(runs)
    return time_scale * cost + slack


def _queue_run_starts(logs: Sequence[LogRecord]) -> list[float]:
    return sorted(
        r.time.timestamp()
        for r in logs
        if r.time is not None and r.text.startswith(QUEUE_RUN_START)
    )


def queue_tick_lateness(runs: Sequence[float]) -> float:
    """The longest wall time by which a queue run started after its tick: the largest gap
    between consecutive runs less their median gap (the interval, as this run kept it).

    A queue runner's tick is an alarm, and a daemon that gets the CPU late starts its run
    late; under a warp of K a quarter of a wall second is 7.5 minutes of Exim's time, and a
    retry due just after the tick waits for it. Measured on six warped MTAs at once on two
    cores: Exim first retries at 49 to 59 minutes, outside the 15 to 45 minutes its configuration
    allows, with an attempt cost of only 1 to 2 minutes. Fewer than three gaps: 0 (unknown)."""
    gaps = sorted(b - a for a, b in itertools.pairwise(runs))
    if len(gaps) < 3:
        return 0.0
    return max(0.0, gaps[-1] - statistics.median(gaps))


def _queue_run_cost(runs: Sequence[float], seen: Sequence[float]) -> float:
    """The longest wall time from the start of a queue run to the retry session it made."""
    cost = 0.0
    for session in sorted(seen)[1:]:
        started = bisect.bisect_right(runs, session)
        if started:
            cost = max(cost, session - runs[started - 1])
    return cost


def trusted_warp_uncertainty(
    logs: Sequence[LogRecord],
    submission: Submission,
    attempts: Sequence[Attempt],
    time_scale: float,
    slack: float,
    until: float | None = None,
) -> float | None:
    """`warp_uncertainty`, once `clock_inconsistency` finds the MTA's log and the receiver's
    sessions on one clock; a ClockWarpError ("clock warp not trusted: ...") when it does not,
    for a matrix case and a schedule alike: their times would be the harness's, not the MTA's.

    `until` (Unix time) is when the receiver's sessions were read: the log is read after them,
    and what the MTA logged later (a queue run while a busy engine got to the log: 10 s later
    in a reference run of nine columns, at x60 a session 10 minutes later) has no session to
    be compared with, so it is left out rather than taken for another clock."""
    if until is not None:
        logs = [r for r in logs if r.time is None or r.time.timestamp() <= until]
    problem = clock_inconsistency(logs, submission, attempts, time_scale)
    if problem is not None:
        raise ClockWarpError(f"clock warp not trusted: {problem}")
    return warp_uncertainty(logs, submission, attempts, time_scale, slack)


def case_warp_uncertainty(
    logs: Sequence[LogRecord],
    submission: Submission,
    evidence: CaseEvidence,
    time_scale: float,
    slack: float,
    *,
    chained: bool = False,
    host_stall: float = 0.0,
) -> float | None:
    """`trusted_warp_uncertainty` of one observed case: its sessions as the evidence holds
    them, compared with what the MTA logged up to when they were read (`observed_for` after
    the `submission` the case's clock counts from).

    `host_stall`: the longest wall time the host kept a waiting process from the CPU during
    the case (`harness.cases.host_stalls`). The MTA's log stamps a late wake-up when it ran, so
    the log cannot show it: K times the stall is added to one attempt's cost.

    `chained`: the MTA counts each delay from the end of the previous attempt (Haraka), so
    every attempt's cost, stretched by K, moves every later time: the ± on the case's times is
    the cost of one attempt times the attempts before its last one (plus the slack), not one."""
    per_attempt = trusted_warp_uncertainty(
        logs,
        submission,
        evidence.attempts,
        time_scale,
        slack,
        until=submission.wall + evidence.observed_for / time_scale,
    )
    if per_attempt is None:
        return None
    per_attempt += time_scale * host_stall
    if not chained:
        return per_attempt
    return (per_attempt - slack) * max(1, len(evidence.attempts) - 1) + slack


def target_warp_uncertainty(
    target: SenderTarget,
    logs: Sequence[LogRecord],
    submission: Submission,
    evidence: CaseEvidence,
    time_scale: float,
    host_stall: float = 0.0,
) -> float | None:
    """`case_warp_uncertainty` with what the target says of its clock: its whole-second slack
    and whether its delays are chained. The matrix and the schedule runner both use it."""
    return case_warp_uncertainty(
        logs,
        submission,
        evidence,
        time_scale,
        target.retry_clock_slack,
        chained=target.chained_delays,
        host_stall=host_stall,
    )
