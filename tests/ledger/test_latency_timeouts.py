"""A client that gives a session up with no rule of the plan acting is told apart, on a real
receiver's journal, from one that gives up on a stall the plan made.

The client sends DATA and half-closes at once, without the message: the silence between the
354 and its FIN is microseconds of wall time, which a clock warped enough makes longer than any
reply timeout, and which no warp of 1 does."""

from __future__ import annotations

import socket
import struct

from harness import Receiver, parse_plan
from harness.ledger import latency_timeouts

#: Haraka's reply timeout, in its seconds.
TIMEOUT = 30.0
STALL_AT_DATA = '[[rule]]\nstage = "data"\nstall = "10m"\nreply = "354 go ahead"\n'


def half_close_after_data(receiver: Receiver, *, after_354: bool) -> None:
    """EHLO, MAIL, RCPT and DATA, then (once the 354 is read, or at once) the client's FIN;
    then wait for the receiver to close."""
    with socket.create_connection((receiver.host, receiver.port), timeout=10) as client:
        reader = client.makefile("rb")
        reader.readline()  # greeting
        client.sendall(b"EHLO client.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        for command in (b"MAIL FROM:<a@client.test>", b"RCPT TO:<b@receiver.test>"):
            client.sendall(command + b"\r\n")
            reader.readline()
        client.sendall(b"DATA\r\n")
        if after_354:
            assert reader.readline().startswith(b"354")
        client.shutdown(socket.SHUT_WR)
        while reader.readline():  # the 354 (or nothing, when it stalls), then the close
            pass
    receiver.flush()


def test_a_give_up_with_no_rule_acting_counts_only_on_a_fast_enough_clock() -> None:
    with Receiver(parse_plan(""), listen=["127.0.0.1:0"]) as receiver:
        half_close_after_data(receiver, after_354=True)
        path = receiver.journal_path
        warped = latency_timeouts(path, time_scale=1e9, reply_timeout=TIMEOUT)
        real = latency_timeouts(path, time_scale=1.0, reply_timeout=TIMEOUT)
    assert len(warped) == 1
    assert "354" in warped[0]
    assert "30s reply timeout" in warped[0]
    assert real == ()


def test_a_give_up_on_a_stall_of_the_plan_is_the_fault_not_the_harness() -> None:
    # its 10-minute stall is 10 ms here
    with Receiver(parse_plan(STALL_AT_DATA), listen=["127.0.0.1:0"], time_scale=60000) as receiver:
        half_close_after_data(receiver, after_354=False)
        found = latency_timeouts(receiver.journal_path, time_scale=1e9, reply_timeout=TIMEOUT)
    assert found == ()


def test_a_reset_after_a_reply_counts_like_a_half_close() -> None:
    """A sender whose timer runs out resets the connection when data is left unread: no FIN,
    so the half-close rule alone would miss it."""
    with Receiver(parse_plan(""), listen=["127.0.0.1:0"]) as receiver:
        client = socket.create_connection((receiver.host, receiver.port), timeout=10)
        reader = client.makefile("rb")
        reader.readline()  # the greeting
        client.sendall(b"EHLO client.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reader.close()
        client.close()  # linger 0: a reset, not a FIN
        receiver.wait_idle()
        path = receiver.journal_path
        warped = latency_timeouts(path, time_scale=1e9, reply_timeout=TIMEOUT)
        real = latency_timeouts(path, time_scale=1.0, reply_timeout=TIMEOUT)
    assert len(warped) == 1
    assert "the sender reset it" in warped[0]
    assert "'250 " in warped[0]
    assert real == ()


def test_the_receiver_closing_at_the_cases_end_is_not_the_senders_give_up() -> None:
    receiver = Receiver(parse_plan(""), listen=["127.0.0.1:0"]).start()
    try:
        client = socket.create_connection((receiver.host, receiver.port), timeout=10)
        client.makefile("rb").readline()  # the greeting; then the receiver stops
    finally:
        receiver.stop()
    client.close()
    assert latency_timeouts(receiver.journal_path, time_scale=1e9, reply_timeout=TIMEOUT) == ()


def test_a_sender_that_leaves_after_the_greeting_without_a_word_counts_however_soon() -> None:
    """Haraka, under full load, on its 12th try: the 220, then its FIN within a millisecond of
    wall time and no EHLO. On a real clock too: no MTA greets-and-goes on purpose."""
    with Receiver(parse_plan(""), listen=["127.0.0.1:0"]) as receiver:
        with socket.create_connection((receiver.host, receiver.port), timeout=10) as client:
            reader = client.makefile("rb")
            reader.readline()  # the greeting
            client.shutdown(socket.SHUT_WR)
            while reader.readline():
                pass
        receiver.wait_idle()
        found = latency_timeouts(receiver.journal_path, time_scale=1440, reply_timeout=TIMEOUT)
    assert len(found) == 1
    assert "left" in found[0]
    assert "without a command" in found[0]


def test_a_greeting_refused_by_the_plan_is_the_fault_not_a_timer() -> None:
    refuse = '[[rule]]\nstage = "greeting"\nreply = "554 5.3.2 go away"\n'
    with Receiver(parse_plan(refuse), listen=["127.0.0.1:0"]) as receiver:
        with socket.create_connection((receiver.host, receiver.port), timeout=10) as client:
            reader = client.makefile("rb")
            reader.readline()
            client.shutdown(socket.SHUT_WR)
            while reader.readline():
                pass
        receiver.wait_idle()
        found = latency_timeouts(receiver.journal_path, time_scale=1440, reply_timeout=TIMEOUT)
    assert found == ()
