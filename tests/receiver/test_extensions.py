"""The receiver's EHLO offers what a provider's MX offers, and keeps the promises it makes."""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

import pytest

from harness import PlanError, parse_plan
from harness.ledger import Ledger
from harness.pytest_plugin import ReceiverFactory


def ehlo_keywords(host: str, port: int) -> list[str]:
    with ExitStack() as stack, socket.create_connection((host, port), timeout=10) as raw:
        lines = stack.enter_context(raw.makefile("rb"))
        lines.readline()  # the greeting
        raw.sendall(b"EHLO client.test\r\n")
        keywords = []
        while True:
            line = lines.readline().decode()
            keywords.append(line[4:].strip())
            if line[3] == " ":
                return keywords[1:]


def test_ehlo_offers_pipelining_and_enhanced_codes_by_default(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory()
    assert ehlo_keywords(receiver.host, receiver.port) == [
        "PIPELINING",
        "SIZE 52428800",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "SMTPUTF8",
        "CHUNKING",
        "HELP",
    ]


def test_a_plan_switches_extensions_off(receiver_factory: ReceiverFactory) -> None:
    plan = parse_plan(
        "[capabilities]\npipelining = false\nENHANCEDSTATUSCODES = false\nchunking = false\n"
    )
    receiver = receiver_factory(plan)
    assert ehlo_keywords(receiver.host, receiver.port) == [
        "SIZE 52428800",
        "8BITMIME",
        "SMTPUTF8",
        "HELP",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[capabilities]\nchunking = 1\n", "must be true or false"),
        ("[capabilities]\nstarttls = true\n", "unknown extension"),
        ("[capabilities]\npipelining = 1\n", "must be true or false"),
        ("capabilities = 3\n", "must be a table"),
    ],
)
def test_capability_mistakes_name_the_key(text: str, problem: str) -> None:
    with pytest.raises(PlanError, match=problem) as caught:
        parse_plan(text, source="plan.toml")
    assert "key 'capabilities" in str(caught.value)


def test_with_enhancedstatuscodes_every_reply_after_ehlo_has_one(
    receiver_factory: ReceiverFactory,
) -> None:
    """RFC 2034 section 4: aiosmtpd's own replies (NOOP, RSET, errors, QUIT) get codes too."""
    receiver = receiver_factory()
    with (
        ExitStack() as stack,
        socket.create_connection((receiver.host, receiver.port), timeout=10) as raw,
    ):
        lines = stack.enter_context(raw.makefile("rb"))
        assert lines.readline().startswith(b"220 ")  # the greeting has none
        raw.sendall(b"EHLO c.test\r\nNOOP\r\nRSET\r\nBOGUS\r\nDATA\r\nQUIT\r\n")
        replies = [lines.readline().decode().rstrip("\r\n") for _ in range(13)]
    answers = [r for r in replies if r and r[3] == " "][1:]  # after the EHLO reply
    assert [a[:9] for a in answers] == [
        "250 2.0.0",
        "250 2.0.0",
        "500 5.5.2",
        "503 5.5.1",
        "221 2.0.0",
    ]


def test_a_pipelined_session_is_decided_by_its_first_failure(
    receiver_factory: ReceiverFactory,
) -> None:
    """A pipelining sender sends DATA before it reads the 451 to RCPT; the receiver's "no
    valid recipients" (aiosmtpd: 503 need RCPT) to that DATA is a consequence: the attempt shows
    (rcpt, 451)."""
    receiver = receiver_factory(parse_plan('[[rule]]\nstage = "rcpt"\nreply = "451 4.3.0 later"'))
    with (
        ExitStack() as stack,
        socket.create_connection((receiver.host, receiver.port), timeout=10) as raw,
    ):
        lines = stack.enter_context(raw.makefile("rb"))
        lines.readline()
        raw.sendall(b"EHLO c.test\r\n")
        while lines.readline()[3:4] != b" ":
            pass
        raw.sendall(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@r.test>\r\nDATA\r\n")
        replies = [lines.readline()[:3] for _ in range(3)]
        raw.sendall(b"QUIT\r\n")
        lines.readline()
    assert replies == [b"250", b"451", b"503"]
    receiver.wait_idle()
    ledger = Ledger(
        journal=receiver.journal_path, bounce_journal=receiver.journal_path, time_scale=1.0
    )
    [attempt] = ledger.read(time.monotonic()).attempts
    assert (attempt.stage, attempt.reply) == ("rcpt", "451 4.3.0 later")
