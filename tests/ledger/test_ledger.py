"""The ledger on real receivers: an SMTP client plays the sender MTA, so every fate can be made."""

from __future__ import annotations

import contextlib
import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness import Receiver, new_message_id, parse_plan, sender_address
from harness.ledger import Ledger, LedgerExpectationError
from harness.results import Fate
from harness.targets import BOUNCE_DOMAIN, QueuedMessage, QueuedRecipient, Submission, build_message
from tests.receiver.test_journal import dsn_for

SCALE = 60.0


def submit(receiver: Receiver, recipients: list[str], *, sends: int = 1) -> Submission:
    """Hand a message to the receiver `sends` times, as a sender MTA would (retries included)."""
    message_id = new_message_id()
    sender = sender_address(message_id, BOUNCE_DOMAIN)
    content = build_message(message_id, sender, recipients, subject="ledger", body="hi\r\n")
    submission = Submission(
        message_id, sender, tuple(recipients), time.time(), time.monotonic(), len(content)
    )
    for _ in range(sends):
        with (
            smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client,
            contextlib.suppress(smtplib.SMTPRecipientsRefused),
        ):
            client.sendmail(sender, recipients, content)
    return submission


def bounce(bounces: Receiver, submission: Submission) -> None:
    with smtplib.SMTP(bounces.host, bounces.port, timeout=10) as client:
        client.sendmail("<>", [submission.sender], dsn_for(submission.message_id))


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[Receiver, Receiver]]:
    plan = parse_plan(
        '[[rule]]\nstage = "rcpt"\nrecipient = ["gone@*", "user@*"]\nreply = "550 5.1.1 gone"'
    )
    case = Receiver(plan, journal=tmp_path / "case.sqlite", time_scale=SCALE).start()
    bounces = Receiver(journal=tmp_path / "bounces.sqlite", time_scale=SCALE).start()
    yield case, bounces
    case.stop()
    bounces.stop()


def test_each_fate_is_established(receivers: tuple[Receiver, Receiver]) -> None:
    case, bounces = receivers
    queued_id: list[str] = []
    ledger = Ledger(
        journal=case.journal_path,
        bounce_journal=bounces.journal_path,
        time_scale=SCALE,
        queue=lambda: (
            [
                QueuedMessage(
                    "Q1",
                    "s",
                    (QueuedRecipient("later@r.test", "450 busy"),),
                    "deferred",
                    None,
                    None,
                    queued_id[0],
                )
            ]
            if queued_id
            else []
        ),
    )
    once = submit(case, ["once@r.test"])
    twice = submit(case, ["twice@r.test"], sends=2)
    gone = submit(case, ["user@r.test"])  # refused, and a DSN for it comes back
    bounce(bounces, gone)
    later = submit(case, ["gone@r.test"])  # refused, and no DSN: neither delivered nor bounced
    lost = submit(case, ["gone@r.test"])
    queued_id.append(later.message_id)
    later = Submission(
        later.message_id, later.sender, ("later@r.test",), later.wall, later.mono, later.size
    )
    for submission in (once, twice, gone, later, lost):
        ledger.add(submission)
    case.wait_idle()
    bounces.wait_idle()
    ledger.expect(Fate.DELIVERED, recipient="once@r.test")
    ledger.expect(Fate.DUPLICATED, recipient="twice@r.test")
    ledger.expect(Fate.BOUNCED, recipient="user@r.test")
    ledger.expect(Fate.QUEUED, recipient="later@r.test")
    ledger.expect(Fate.LOST, recipient="gone@r.test")
    evidence = ledger.read(time.monotonic())
    assert evidence.counts() == {
        "delivered": 1,
        "duplicated": 1,
        "bounced": 1,
        "queued": 1,
        "lost": 1,
    }
    [duplicated] = [f for f in evidence.fates if f.fate is Fate.DUPLICATED]
    assert duplicated.deliveries == 2
    [bounced] = [f for f in evidence.fates if f.fate is Fate.BOUNCED]
    assert bounced.settled_t is not None
    assert len(evidence.dsns) == 1
    assert len(evidence.attempts) == 6  # one session per send
    assert all(a.t >= 0 for a in evidence.attempts)
    # Every fate says when its message was handed over, on the case's clock (real seconds
    # since the first submission): the scenario's spread is the plan, this the measurement.
    sent_at = {s.message_id: (s.mono - once.mono) * SCALE for s in (once, twice, gone, later, lost)}
    for fate in evidence.fates:
        assert fate.injected_t == pytest.approx(sent_at[fate.message_id]), fate
    assert len({f.injected_t for f in evidence.fates}) == 5  # five submissions, one after another


def test_a_message_whose_notice_waits_in_the_senders_queue_was_bounced(
    receivers: tuple[Receiver, Receiver],
) -> None:
    """A relay sends its bounce to the smarthost that failed the message (dma): while that
    refuses it too, the notice waits in the sender's queue. The message was given up, at the
    notice's arrival; another sender's notice, or a message no notice is for, says nothing."""
    case, bounces = receivers
    refused = submit(case, ["gone@r.test"])
    written = datetime.now(UTC)  # given up after its one attempt, before the next submission
    silent = submit(case, ["gone@r.test"])
    notices = [
        QueuedMessage("N1", "", (QueuedRecipient(refused.sender),), "queued", written, None),
        QueuedMessage("N2", "", (QueuedRecipient("someone@else.test"),), "queued", None, None),
    ]
    ledger = Ledger(
        journal=case.journal_path,
        bounce_journal=bounces.journal_path,
        time_scale=SCALE,
        queue=lambda: notices,
    )
    ledger.add(refused)
    ledger.add(silent)
    case.wait_idle()
    evidence = ledger.read(time.monotonic())
    fates = {f.message_id: f for f in evidence.fates}
    assert fates[refused.message_id].fate is Fate.BOUNCED
    assert fates[silent.message_id].fate is Fate.LOST
    # settled at the notice's arrival, in real seconds since the first submission
    settled = fates[refused.message_id].settled_t
    expected = (written.timestamp() - refused.wall) * SCALE
    assert settled == pytest.approx(expected, abs=0.01 * SCALE)
    assert not evidence.dsns
    # the notice may yet be delivered: the case is not settled while it waits
    assert evidence.notices_pending == 1
    assert not evidence.settled()


def test_a_plain_notice_bounces_the_recipient_it_names_and_no_other(
    receivers: tuple[Receiver, Receiver],
) -> None:
    """dma's bounce is no delivery-status report, one per recipient: "There was an error
    delivering your mail to <user@r.test>", the original headers below. It settles the
    recipient it names in angle brackets; a notice that names none settles them all."""
    case, bounces = receivers
    sent = submit(case, ["user@r.test", "gone@r.test"])  # both refused
    whole = submit(case, ["user@r.test", "gone@r.test"])
    for submission, named in ((sent, "<user@r.test>"), (whole, "your message")):
        notice = (
            "From: MAILER-DAEMON <>\r\nSubject: Mail delivery failed\r\n\r\n"
            f"There was an error delivering {named}.\r\n\r\n"
            f"To: user@r.test, gone@r.test\r\nX-Mailstorm-Id: {submission.message_id}\r\n"
        )
        with smtplib.SMTP(bounces.host, bounces.port, timeout=10) as client:
            client.sendmail("<>", [submission.sender], notice.encode())
    ledger = Ledger(
        journal=case.journal_path, bounce_journal=bounces.journal_path, time_scale=SCALE
    )
    ledger.add(sent)
    ledger.add(whole)
    case.wait_idle()
    bounces.wait_idle()
    fates = {(f.message_id, f.recipient): f.fate for f in ledger.read(time.monotonic()).fates}
    assert fates == {
        (sent.message_id, "user@r.test"): Fate.BOUNCED,
        (sent.message_id, "gone@r.test"): Fate.LOST,
        (whole.message_id, "user@r.test"): Fate.BOUNCED,
        (whole.message_id, "gone@r.test"): Fate.BOUNCED,
    }


def test_failed_expectation_shows_what_happened(receivers: tuple[Receiver, Receiver]) -> None:
    case, bounces = receivers
    ledger = Ledger(
        journal=case.journal_path, bounce_journal=bounces.journal_path, time_scale=SCALE
    )
    ledger.add(submit(case, ["u@r.test"]))
    case.wait_idle()
    with pytest.raises(LedgerExpectationError) as caught:
        ledger.expect(Fate.BOUNCED)
    message = str(caught.value)
    assert "expected 1 recipient(s) bounced, found 0" in message
    assert "u@r.test: delivered" in message
    assert "eod 250" in message


def test_wait_settled_returns_once_settled_and_times_out_otherwise(
    receivers: tuple[Receiver, Receiver],
) -> None:
    case, bounces = receivers
    ledger = Ledger(
        journal=case.journal_path, bounce_journal=bounces.journal_path, time_scale=SCALE
    )
    ledger.add(submit(case, ["u@r.test"]))
    assert ledger.wait_settled(timeout=10).counts()["delivered"] == 1
    ledger.add(submit(case, ["gone@r.test"]))
    with pytest.raises(
        LedgerExpectationError, match=r"waited 0.5s for every recipient.*gone@r.test: lost"
    ):
        ledger.wait_settled(timeout=0.5)


@pytest.mark.parametrize("stage", ["greeting", "ehlo"])
def test_a_reply_that_closes_the_connection_is_the_attempts_reply(
    tmp_path: Path, stage: str
) -> None:
    """A 421 is sent, then the connection closed: the attempt shows the 421, not "no reply"."""
    plan = parse_plan(f'[[rule]]\nstage = "{stage}"\nreply = "421 4.7.0 too busy"')
    with (
        Receiver(plan, journal=tmp_path / "case.sqlite", time_scale=SCALE) as case,
        Receiver(journal=tmp_path / "bounces.sqlite", time_scale=SCALE) as bounces,
    ):
        ledger = Ledger(
            journal=case.journal_path, bounce_journal=bounces.journal_path, time_scale=SCALE
        )
        with contextlib.suppress(smtplib.SMTPException):
            ledger.add(submit(case, ["user@r.test"]))
        case.wait_idle()
        [attempt] = ledger.read(time.monotonic()).attempts
    assert (attempt.stage, attempt.reply) == (stage, "421 4.7.0 too busy")
