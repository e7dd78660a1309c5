"""RFC 3030 CHUNKING on a real socket: BDAT chunks make one message, journalled like DATA; a
fault decides a chunk (a reply, a drop mid-chunk) or, at the last one, end-of-data; every chunk
is consumed, refused or not, so the session never reads a command out of a message."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import BinaryIO

import pytest

from harness import parse_plan
from harness.ledger import Ledger
from harness.pytest_plugin import ReceiverFactory
from harness.receiver import Receiver

MESSAGE_ID = "ms" + "c" * 32
SENDER = f"mailstorm+{MESSAGE_ID}@bounces.mailstorm.test"
BODY = b"Subject: chunked\r\n\r\nline one\r\n.not a dot line\r\n"


@contextmanager
def session(receiver: Receiver) -> Iterator[tuple[socket.socket, BinaryIO]]:
    with (
        ExitStack() as stack,
        socket.create_connection((receiver.host, receiver.port), timeout=10) as raw,
    ):
        lines = stack.enter_context(raw.makefile("rb"))
        assert lines.readline().startswith(b"220 ")
        raw.sendall(b"EHLO c.test\r\n")
        while lines.readline()[3:4] != b" ":
            pass
        yield raw, lines


def replies(lines: BinaryIO, count: int) -> list[str]:
    return [lines.readline().decode().rstrip("\r\n") for _ in range(count)]


def envelope(raw: socket.socket, lines: BinaryIO) -> None:
    raw.sendall(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<u@r.test>\r\n".encode())
    assert [r[:3] for r in replies(lines, 2)] == ["250", "250"]


def test_chunks_make_one_message_byte_for_byte(receiver_factory: ReceiverFactory) -> None:
    """Two chunks, the second LAST, pipelined with QUIT: one stored message, exactly the
    octets sent (no dot-stuffing to undo), and the attempt is a delivery."""
    receiver = receiver_factory()
    first, second = BODY[:20], BODY[20:]
    with session(receiver) as (raw, lines):
        envelope(raw, lines)
        raw.sendall(
            f"BDAT {len(first)}\r\n".encode()
            + first
            + f"BDAT {len(second)} LAST\r\n".encode()
            + second
            + b"QUIT\r\n"
        )
        answers = replies(lines, 3)
    assert answers[0] == f"250 2.0.0 {len(first)} octets received"
    assert answers[1].startswith("250 2.0.0 OK queued as ")
    assert answers[2].startswith("221")
    receiver.wait_idle()
    with receiver.journal() as journal:
        [message] = journal.messages()
    assert message.content == BODY
    assert message.message_id == MESSAGE_ID
    ledger = Ledger(
        journal=receiver.journal_path, bounce_journal=receiver.journal_path, time_scale=1.0
    )
    [attempt] = ledger.read(time.monotonic()).attempts
    assert attempt.stage == "eod"
    assert attempt.reply is not None
    assert attempt.reply.startswith("250")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('stage = "bdat"\nreply = "451 4.3.0 chunk refused"', "451 4.3.0 chunk refused"),
        ('stage = "eod"\nreply = "554 5.7.1 rejected"', "554 5.7.1 rejected"),
    ],
)
def test_a_refused_chunk_is_consumed_and_the_rest_discarded(
    receiver_factory: ReceiverFactory, rule: str, expected: str
) -> None:
    """A fault at a chunk (or at the last one, as end-of-data) is its reply; the chunks
    already in the pipeline are read and refused with 503, and the session goes on: the
    QUIT after them is a command, not message data."""
    receiver = receiver_factory(parse_plan(f"[[rule]]\n{rule}\n"))
    with session(receiver) as (raw, lines):
        envelope(raw, lines)
        raw.sendall(
            b"BDAT 4 LAST\r\nQUIT" if "eod" in rule else b"BDAT 4\r\nQUIT" + b"BDAT 3 LAST\r\nxyz"
        )
        raw.sendall(b"QUIT\r\n")
        answers = replies(lines, 2 if "eod" in rule else 3)
    assert answers[0] == expected
    if "bdat" in rule:
        assert answers[1].startswith("503 5.5.1")
    assert answers[-1].startswith("221")
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert journal.messages() == []


def test_a_drop_mid_chunk_reads_part_of_it_and_hangs_up(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "bdat"\ndrop = "mid-data"\ndrop_after_bytes = 10\n')
    )
    with session(receiver) as (raw, lines):
        envelope(raw, lines)
        raw.sendall(f"BDAT {len(BODY)} LAST\r\n".encode() + BODY)
        assert lines.readline() == b""  # closed without a reply
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert journal.messages() == []
        events = [e.text for e in journal.events(kind="drop")]
    assert events == ["dropped mid-chunk after 10 bytes"]


def test_bdat_out_of_place_is_refused_and_its_chunk_consumed(
    receiver_factory: ReceiverFactory,
) -> None:
    """Before MAIL, or when the plan does not offer CHUNKING: a 503 or 502, and the chunk's
    octets (which here spell a command) are not read as one."""
    receiver = receiver_factory()
    with session(receiver) as (raw, lines):
        raw.sendall(b"BDAT 6 LAST\r\nRSET\r\nNOOP\r\nBDAT x\r\n")
        answers = replies(lines, 3)
    assert answers[0].startswith("503 5.5.1 Error: BDAT needs EHLO, MAIL and RCPT")
    assert answers[1].startswith("250")  # the NOOP: RSET\r\n was chunk data
    assert answers[2].startswith("501 5.5.4 Syntax: BDAT")
    off = receiver_factory(parse_plan("[capabilities]\nchunking = false\n"))
    with session(off) as (raw, lines):
        envelope(raw, lines)
        raw.sendall(b"BDAT 6 LAST\r\nRSET\r\nNOOP\r\n")
        answers = replies(lines, 2)
    assert answers[0].startswith("502 5.5.1 Error: CHUNKING is not offered")
    assert answers[1].startswith("250")
