"""A bounce notice's sessions that ended before MAIL FROM are told apart from the message's by
the sender's log (harness/ledger/notices.py), on dma's real log lines: `data/dma/ehlo.log`,
a 421 to EHLO that bounced the message at once, and its notice refused the same way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from harness.ledger import CaseEvidence, without_notice_sessions
from harness.results import Attempt
from harness.targets import BOUNCE_DOMAIN, LogRecord, RouteTable, Submission
from harness.targets.dma.driver import DmaTarget, attempt_records

DATA = Path(__file__).parent.parent / "targets" / "data" / "dma"
K = 60.0
WALL = 1_796_460_000.0


def ehlo_records() -> tuple[list[LogRecord], str]:
    """dma's records of `ehlo.log`: the message's bounce at EHLO and its notice's."""
    reader = DmaTarget(
        RouteTable.to_one(["a.test", BOUNCE_DOMAIN], "172.17.0.1", 4000), time_scale=60
    )
    lines = (DATA / "ehlo.log").read_text().splitlines()
    records = attempt_records([r for line in lines if (r := reader.parse_log_line(line))])
    sender = next(r.fields["from"] for r in records if r.fields.get("from"))
    return records, sender


def at(records: list[LogRecord], status: str, sender: str, wall: float) -> LogRecord:
    """The first record of `sender` (empty: the notice) with `status`, moved to `wall`."""
    found = next(
        r for r in records if r.fields.get("from") == sender and r.fields["status"] == status
    )
    return replace(found, time=datetime.fromtimestamp(wall, UTC))


def session(t_wall: float, message_id: str | None = None) -> Attempt:
    return Attempt(
        t=t_wall * K, stage="ehlo", reply="421 4.3.2 try later", message_id=message_id,
        duration=0.01 * K,
    )  # fmt: skip


def evidence(*attempts: Attempt) -> CaseEvidence:
    return CaseEvidence(
        fates=(), attempts=attempts, dsns=(), foreign_bounces=(), journal_excerpt=(),
        observed_for=3600.0,
    )  # fmt: skip


def test_the_notices_sessions_are_dropped_and_the_messages_kept() -> None:
    records, sender = ehlo_records()
    submission = Submission("ms" + "0" * 32, sender, ("user@a.test",), WALL, 100.0, 10)
    logs = [
        at(records, "bounced", sender, WALL + 0.05),  # the message's EHLO, refused
        at(records, "bounced", "", WALL + 0.28),  # its notice's, a quarter second later
        at(records, "bounced", "", WALL + 5.0),  # the notice again, at the next flush
    ]
    seen = evidence(session(0.0), session(0.27), session(4.99))
    kept = without_notice_sessions(seen, logs, [submission], K)
    assert kept.attempts == (session(0.0),)


def test_a_session_that_reached_mail_from_is_not_the_logs_to_drop() -> None:
    """The ledger already judges sessions that named their sender."""
    records, sender = ehlo_records()
    submission = Submission("ms" + "0" * 32, sender, ("user@a.test",), WALL, 100.0, 10)
    logs = [at(records, "bounced", "", WALL + 1.0)]
    seen = evidence(session(1.0, message_id="ms" + "1" * 32))
    assert without_notice_sessions(seen, logs, [submission], K) is seen


def test_without_a_notice_in_the_log_the_evidence_is_unchanged() -> None:
    records, sender = ehlo_records()
    submission = Submission("ms" + "0" * 32, sender, ("user@a.test",), WALL, 100.0, 10)
    logs = [at(records, "bounced", sender, WALL + 0.05)]
    seen = evidence(session(0.0), session(0.27))
    assert without_notice_sessions(seen, logs, [submission], K) is seen
