"""The Locust side's SMTP client, imported directly (no Locust, no gevent patching) and run
against the real receiver on a real socket: each outcome, each phase, how failures are named."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.herd.run.load.smtp_session import (
    BOUNCED,
    DEFERRED,
    DELIVERED,
    PHASES,
    Envelope,
    SmtpFailure,
    SmtpSession,
    wire_content,
)
from harness.pytest_plugin import ReceiverFactory
from harness.receiver import plan_from_mapping

Phase = tuple[str, float, SmtpFailure | None]


def deliver(
    address: tuple[str, int], *, pipelining: bool = True, body_size: int = 500
) -> tuple[str, list[Phase]]:
    phases: list[Phase] = []
    session = SmtpSession(
        address,
        helo="slot.herd.mailstorm.test",
        timeout=10.0,
        report=lambda phase, seconds, failure: phases.append((phase, seconds, failure)),
        pipelining=pipelining,
    )
    envelope = Envelope(
        "mailstorm+unit@fast.herd.mailstorm.test",
        "user@example.test",
        wire_content("Subject: unit\r\nFrom: a@fast.herd.mailstorm.test", body_size),
    )
    return session.run(envelope), phases


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "lock-step"])
def test_a_delivery_reports_every_phase_once_and_reaches_the_journal(
    receiver_factory: ReceiverFactory, pipelining: bool
) -> None:
    receiver = receiver_factory()

    outcome, phases = deliver((receiver.host, receiver.port), pipelining=pipelining)

    assert outcome == DELIVERED
    assert [name for name, _, _ in phases] == list(PHASES)
    assert all(failure is None and seconds >= 0 for _, seconds, failure in phases)
    receiver.wait_idle()
    with receiver.journal() as journal:
        (message,) = journal.messages()
    assert message.mail_from == "mailstorm+unit@fast.herd.mailstorm.test"
    assert message.rcpt_tos == ("user@example.test",)


@pytest.mark.parametrize(
    ("reply", "outcome", "label"),
    [
        ("451 4.3.0 try later", DEFERRED, "451 4.3.0"),
        ("550 5.1.1 no such user", BOUNCED, "550 5.1.1"),
    ],
)
def test_a_refused_recipient_is_named_by_its_codes_only(
    receiver_factory: ReceiverFactory, reply: str, outcome: str, label: str
) -> None:
    receiver = receiver_factory(plan_from_mapping({"rule": [{"stage": "rcpt", "reply": reply}]}))

    got, phases = deliver((receiver.host, receiver.port))

    assert got == outcome
    name, _, failure = phases[-1]
    assert name == "rcpt"
    assert failure is not None
    assert str(failure) == label
    assert failure.permanent is (outcome == BOUNCED)
    assert [n for n, _, _ in phases] == ["connect", "greeting", "ehlo", "mail", "rcpt"]


def test_a_target_named_by_host_name_is_resolved_and_delivered_to(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory()

    outcome, _ = deliver(("localhost", receiver.port))

    assert outcome == DELIVERED
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert len(journal.messages()) == 1


def test_a_message_bigger_than_the_socket_buffers_arrives_whole(
    receiver_factory: ReceiverFactory,
) -> None:
    """The client writes with `send`, not `sendall`: a message the kernel takes in parts must
    still leave whole."""
    receiver = receiver_factory()
    # Past the largest send buffer the kernel grows to, so one `send` cannot take it all.
    largest_send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    body_size = 2 * largest_send_buffer + 12_345

    outcome, _ = deliver((receiver.host, receiver.port), body_size=body_size)

    assert outcome == DELIVERED
    receiver.wait_idle()
    with receiver.journal() as journal:
        (message,) = journal.messages()
    assert message.size >= body_size


def test_nothing_listening_is_a_deferral_at_connect() -> None:
    with socket.socket() as placeholder:  # a port that was free a moment ago and is closed now
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]

    outcome, phases = deliver(("127.0.0.1", port))

    assert outcome == DEFERRED
    ((name, _, failure),) = phases
    assert name == "connect"
    assert failure is not None
    assert str(failure) == "connection refused"


def test_wire_content_has_no_line_starting_with_a_dot() -> None:
    content = wire_content("Subject: x", 10_000)
    lines = content.split(b"\r\n")
    assert not any(line.startswith(b".") for line in lines)
    assert b"\r\n\r\n" in content
    assert 10_000 <= len(content) <= 10_000 + 100
