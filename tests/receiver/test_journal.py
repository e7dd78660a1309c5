"""What the journal records: sessions, commands, replies, decisions, messages and DSNs."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from harness import Journal, JournalError, Receiver, new_message_id, parse_plan
from harness.pytest_plugin import ReceiverFactory
from harness.receiver import JournalWriter
from tests.smtp_probe import message


def dsn_for(message_id: str) -> bytes:
    """A minimal RFC 3464 report about `message_id`, as an MTA would send it back."""
    return (
        "From: MAILER-DAEMON@sender.test\r\nTo: bounces@bounces.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; sender.test\r\n\r\n"
        "Final-Recipient: rfc822; user@r.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <user@r.test> recipient rejected\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: sender@client.test\r\nX-Mailstorm-Id: {message_id}\r\n--b--\r\n"
    ).encode()


def test_session_is_journaled_in_order_with_both_clocks(receiver: Receiver) -> None:
    message_id = new_message_id()
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        client.sendmail(
            f"mailstorm+{message_id}@bounces.test", ["user@r.test"], message(message_id)
        )
    receiver.wait_idle()
    with receiver.journal() as journal:
        [session] = journal.sessions()
        events = journal.events(session_id=session.id)
        [stored] = journal.messages()
    assert session.client == "127.0.0.1"
    assert session.listen_address == f"127.0.0.1:{receiver.port}"
    kinds = [event.kind for event in events]
    assert kinds[0] == "connect"
    assert kinds[-1] == "disconnect"
    commands = [event.text.split(" ")[0] for event in events if event.kind == "command"]
    assert commands == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert [event.mono for event in events] == sorted(event.mono for event in events)
    assert all(event.wall > 1.6e9 for event in events)
    assert stored.message_id == message_id
    assert stored.content == message(message_id)
    assert (stored.mail_from, stored.is_dsn, stored.dsn_for) == (
        f"mailstorm+{message_id}@bounces.test",
        False,
        None,
    )
    transaction = [event for event in events if event.stage in ("mail", "rcpt", "data", "eod")]
    assert {event.message_id for event in transaction} == {message_id}


def test_message_id_found_in_header_when_envelope_has_none(receiver: Receiver) -> None:
    message_id = new_message_id()
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        client.sendmail("plain@client.test", ["user@r.test"], message(message_id))
    with receiver.journal() as journal:
        [stored] = journal.messages()
    assert stored.message_id == message_id


def test_dsn_is_recognised_and_joined_to_its_message(receiver: Receiver) -> None:
    message_id = new_message_id()
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        client.sendmail("<>", [f"mailstorm+{message_id}@bounces.test"], dsn_for(message_id))
    with receiver.journal() as journal:
        [dsn] = journal.dsns()
        assert journal.messages(message_id=message_id) == [dsn]
    assert (dsn.mail_from, dsn.is_dsn, dsn.dsn_for, dsn.message_id) == ("", True, message_id, None)


def test_rejected_message_is_not_stored_but_its_decision_is(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory(
        parse_plan('[[rule]]\nname = "no"\nstage = "eod"\nreply = "554 5.6.0 no"')
    )
    message_id = new_message_id()
    sender = f"mailstorm+{message_id}@bounces.test"
    with (
        smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPDataError),
    ):
        client.sendmail(sender, ["u@r.test"], message(message_id))
    with receiver.journal() as journal:
        assert journal.messages() == []
        [decision] = journal.decisions()
    assert (decision.stage, decision.rule, decision.message_id) == ("eod", 0, message_id)


def test_rule_firings_count_each_rule_and_omit_the_ones_that_never_fired(
    receiver_factory: ReceiverFactory,
) -> None:
    # Rule 0 refuses the first RCPT of every message, rule 1 (another domain) never matches.
    receiver = receiver_factory(
        parse_plan(
            '[[rule]]\nstage = "rcpt"\nmessage_attempt = 1\nreply = "451 4.3.0 later"\n'
            '[[rule]]\nstage = "rcpt"\nrecipient_domain = "never.test"\nreply = "550 5.1.1 no"\n'
        )
    )
    for _ in range(2):
        message_id = new_message_id()
        sender = f"mailstorm+{message_id}@bounces.test"
        with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
            client.ehlo("me.test")
            client.mail(sender)
            assert client.rcpt("u@r.test")[0] == 451  # first attempt: rule 0
            client.rset()
            client.mail(sender)
            assert client.rcpt("u@r.test")[0] == 250  # second attempt: the default accept
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert journal.rule_firings() == {0: 2}


def test_journal_reader_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such journal"):
        Journal(tmp_path / "missing.sqlite")
    not_a_journal = tmp_path / "notes.txt"
    not_a_journal.write_text("hello")
    with pytest.raises(JournalError, match="not a mailstorm journal"):
        Journal(not_a_journal)


def test_receiver_refuses_an_existing_journal_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Receiver(journal=path):
        pass
    with pytest.raises(JournalError, match="already exists"), Receiver(journal=path):
        pass
    with Receiver(journal=path, overwrite_journal=True) as receiver, receiver.journal() as journal:
        assert journal.sessions() == []


def test_a_waiter_that_gave_up_does_not_stop_the_journal_writer(tmp_path: Path) -> None:
    """A session cancelled while its message is being committed (the client hung up, the
    receiver stopped) cancels the future it waited on; the writer must skip it, not die: a
    matrix run once ended in "journal writer failed: CANCELLED" that way."""
    writer = JournalWriter(tmp_path / "journal.sqlite")
    session = writer.record_session("main", "127.0.0.1:25", "127.0.0.1")
    abandoned = writer.barrier()
    assert abandoned.cancel()
    writer.record_event(session, "connect", "from 127.0.0.1")
    writer.flush(timeout=10)  # would time out: the writer thread would be dead
    writer.close()  # and this would raise "journal writer failed"
    with Journal(tmp_path / "journal.sqlite") as journal:
        assert [e.kind for e in journal.events()] == ["connect"]
