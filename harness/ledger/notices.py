"""Sessions that carried a bounce notice, not the message: told apart by the sender's log.

A relay sends its bounce notice to the smarthost that failed the message (nullmailer, dma),
which in a scenario is the case's receiver. A notice's session that reached MAIL FROM shows
its null sender, and the ledger never counts it as an attempt (`_carries_a_bounce`). One that
ended before MAIL looks like any other: dma bounces a message on a 421 to EHLO, and its
notice, refused the same way, is tried again at every cron flush, so `ehlo-421` showed 26
"retries" of a message that was never retried.

The sender's log knows: it names the notice (a message from the null sender to the case's
envelope sender) and logs its attempts with their times. A session of the receiver that knows
no message id and holds the time of a notice's logged attempt, within the clock check's
tolerance, is the notice's; the evidence keeps every other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from harness.ledger.clock_check import TOLERANCE
from harness.ledger.ledger import CaseEvidence
from harness.targets import LogRecord, Submission, queue_ids_of

#: Statuses of a logged attempt's outcome (drivers' `status` field).
_OUTCOMES = frozenset({"sent", "deferred", "bounced"})


def _attempt_walls(logs: Sequence[LogRecord], queue_ids: set[str]) -> list[float]:
    """Wall instants of the logged attempts, by the queue ids given, that reached a server."""
    return [
        r.time.timestamp()
        for r in logs
        if r.queue_id in queue_ids
        and r.time is not None
        and r.fields.get("status") in _OUTCOMES
        and r.fields.get("relay", "none") != "none"
    ]


def without_notice_sessions(
    evidence: CaseEvidence,
    logs: Sequence[LogRecord],
    submissions: Sequence[Submission],
    time_scale: float,
    tolerance: float = TOLERANCE,
) -> CaseEvidence:
    """`evidence` without the attempts that were sessions of the case's bounce notices.

    Every logged attempt, the messages' and the notices', in time order, claims the nearest
    session not yet claimed, within `tolerance`: a message's session and its notice's a
    fraction of a wall second apart each get their own. The sessions the notices claimed that
    know no message id are dropped (one that reached MAIL FROM is the ledger's to judge)."""
    if not submissions or not logs:
        return evidence
    senders = {s.sender.lower() for s in submissions}
    notices = {
        r.queue_id
        for r in logs
        if r.queue_id and r.fields.get("from") == "" and r.fields.get("to", "").lower() in senders
    }
    if not notices:
        return evidence
    messages: set[str] = set()
    for submission in submissions:
        messages |= queue_ids_of(logs, submission.sender)
    logged = sorted(
        [(wall, False) for wall in _attempt_walls(logs, messages)]
        + [(wall, True) for wall in _attempt_walls(logs, notices)]
    )
    first = min(submissions, key=lambda s: s.mono)
    sessions = {
        index: (first.wall + a.t / time_scale, first.wall + (a.t + a.duration) / time_scale)
        for index, a in enumerate(evidence.attempts)
    }
    dropped: set[int] = set()
    for wall, is_notice in logged:
        near = [
            (max(0.0, start - wall, wall - end), index) for index, (start, end) in sessions.items()
        ]
        if not near:
            break
        distance, index = min(near)
        if distance > tolerance:
            continue
        del sessions[index]
        if is_notice and evidence.attempts[index].message_id is None:
            dropped.add(index)
    if not dropped:
        return evidence
    kept = tuple(a for i, a in enumerate(evidence.attempts) if i not in dropped)
    return replace(evidence, attempts=kept)
