"""A client's FIN is not a hang-up: what it sent before is answered (Exim's pipelined QUIT).

Exim 4.96, offered PIPELINING, sends the final dot and QUIT in one segment and then shuts its
sending side (transports/smtp.c, "pipeline QUIT", `shutdown(SHUT_WR)`), and reads the replies.
aiosmtpd cancelled the session on that EOF, so the receiver hung up on a delivery a real MX
accepts: Exim logged "Remote host closed connection in response to end of data".
"""

from __future__ import annotations

import socket
import time

from harness import new_message_id, parse_plan, sender_address
from harness.ledger import Ledger
from harness.pytest_plugin import ReceiverFactory
from harness.receiver import GAVE_UP_DURING_STALL
from tests.smtp_probe import message

TIME_SCALE = 100.0


def send_then_half_close(host: str, port: int) -> tuple[str, list[bytes]]:
    """One transaction, the dot and QUIT pipelined, then FIN; every reply read until close."""
    message_id = new_message_id()
    sender = sender_address(message_id, "bounces.test")
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(b"EHLO c.test\r\n")
        buffered = b""
        while b"250 " not in buffered:
            buffered += raw.recv(4096)
        commands = f"MAIL FROM:<{sender}>\r\nRCPT TO:<u@r.test>\r\nDATA\r\n".encode()
        raw.sendall(commands)
        while buffered.count(b"\r\n354 ") + buffered.startswith(b"354 ") == 0:
            buffered += raw.recv(4096)
        raw.sendall(message(message_id) + b".\r\nQUIT\r\n")
        raw.shutdown(socket.SHUT_WR)
        rest = b""
        while chunk := raw.recv(4096):
            rest += chunk
    return message_id, [line[:3] for line in rest.split(b"\r\n") if line]


def test_a_pipelined_quit_and_fin_still_get_their_replies(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory()
    message_id, codes = send_then_half_close(receiver.host, receiver.port)
    assert codes == [b"250", b"221"]
    receiver.wait_idle()
    with receiver.journal() as journal:
        [stored] = journal.messages()
    assert stored.message_id == message_id


def test_a_slow_reply_to_the_dot_reaches_a_client_that_closed_its_side(
    receiver_factory: ReceiverFactory,
) -> None:
    """The rate-limit-421 case: the accepted session answers the dot after a stall."""
    plan = parse_plan('[[rule]]\nstage = "eod"\nstall = "1m"\naccept = true\n')
    receiver = receiver_factory(plan, time_scale=TIME_SCALE)
    message_id, codes = send_then_half_close(receiver.host, receiver.port)
    assert codes == [b"250", b"221"]
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert [m.message_id for m in journal.messages()] == [message_id]
        kinds = [e.kind for e in journal.events()]
    assert kinds.index("eof") < kinds.index("disconnect")


def test_a_client_that_leaves_a_blackhole_ends_its_session(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory(parse_plan('[[rule]]\nstage = "greeting"\nstall = "forever"\n'))
    with socket.create_connection((receiver.host, receiver.port), timeout=10) as raw:
        raw.shutdown(socket.SHUT_WR)
        assert raw.recv(100) == b""  # the receiver hung up: nobody waits for a stall for ever
    receiver.wait_idle(timeout=5)
    assert receiver.open_sessions == 0


def test_how_long_a_client_waited_ends_when_it_left_not_when_the_stall_did(
    receiver_factory: ReceiverFactory,
) -> None:
    """A sender that gives up on a slow greeting after its timeout closes the connection; the
    stall runs on (it cannot know), but the wait measured is the sender's."""
    plan = parse_plan('[[rule]]\nstage = "greeting"\nstall = "10m"\n')
    receiver = receiver_factory(plan, time_scale=TIME_SCALE)  # 10 real minutes: 6 s of wall
    started = time.monotonic()
    with socket.create_connection((receiver.host, receiver.port), timeout=10):
        time.sleep(1.5)  # the client's own greeting timeout: 150 real seconds
    receiver.wait_idle(timeout=15)
    ledger = Ledger(
        journal=receiver.journal_path, bounce_journal=receiver.journal_path, time_scale=TIME_SCALE
    )
    [attempt] = ledger.read(time.monotonic()).attempts
    assert 1.4 * TIME_SCALE <= attempt.duration <= 3.0 * TIME_SCALE
    assert time.monotonic() - started >= 5.0  # the stall itself ran to its end


def test_a_client_that_pipelined_quit_and_later_timed_out_gets_nothing_stored(
    receiver_factory: ReceiverFactory,
) -> None:
    """Postfix pipelines QUIT after the dot, then closes when its own timeout expires: that
    FIN, long after the stall began, is a client that stopped waiting; a receiver that commits
    only as it replies (no `keep_message`) keeps nothing."""
    plan = parse_plan('[[rule]]\nstage = "eod"\nstall = "1h"\naccept = true\n')
    receiver = receiver_factory(plan, time_scale=600.0)  # the stall lasts 6 s of wall time
    message_id = new_message_id()
    sender = sender_address(message_id, "bounces.test")
    with socket.create_connection((receiver.host, receiver.port), timeout=10) as raw:
        raw.sendall(f"EHLO c.test\r\nMAIL FROM:<{sender}>\r\nRCPT TO:<u@r.test>\r\n".encode())
        raw.sendall(b"DATA\r\n")
        buffered = b""
        while b"354 " not in buffered:
            buffered += raw.recv(4096)
        raw.sendall(message(message_id) + b".\r\nQUIT\r\n")
        time.sleep(1.0)  # the client's own end-of-data timeout, 10 real minutes here
        raw.shutdown(socket.SHUT_WR)
        assert raw.recv(4096) == b""  # hung up on: nothing to answer a client that left
    receiver.wait_idle(timeout=15)
    with receiver.journal() as journal:
        assert journal.messages() == []
        [eof] = journal.events(kind="eof")
    assert eof.text == GAVE_UP_DURING_STALL
