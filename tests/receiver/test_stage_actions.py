"""Every SMTP stage with every action, with a real SMTP client over real sockets.

Each case starts a receiver whose plan has one rule at one stage, walks a session up to that
stage with smtplib, and checks both what the client saw and what the journal recorded.
"""

from __future__ import annotations

import socket

import pytest

from harness.pytest_plugin import ReceiverFactory
from harness.receiver import FaultPlan, MessageRecord, Receiver, Stage, parse_plan
from harness.waiting import wait_until
from tests.smtp_probe import Probe

STAGES = [Stage.GREETING, Stage.EHLO, Stage.MAIL, Stage.RCPT, Stage.DATA, Stage.EOD, Stage.QUIT]
#: 30 s of real MTA time last 0.3 s on the wall at this scale.
TIME_SCALE = 100.0
#: The event loop's timers (libuv's) have millisecond granularity: a stall may end 1 ms early.
TIMER_GRANULARITY = 0.001


def one_rule(stage: Stage, action: str) -> FaultPlan:
    return parse_plan(f'[[rule]]\nname = "under test"\nstage = "{stage.value}"\n{action}\n')


def start(receiver_factory: ReceiverFactory, stage: Stage, action: str) -> Receiver:
    return receiver_factory(one_rule(stage, action), time_scale=TIME_SCALE)


def decisions_at(receiver: Receiver, stage: Stage) -> list[str]:
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        return [event.text for event in journal.decisions() if event.stage == stage.value]


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_reply_temporary_single_line(receiver_factory: ReceiverFactory, stage: Stage) -> None:
    receiver = start(receiver_factory, stage, 'reply = "452 4.3.1 Insufficient system storage"')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(stage)
    assert (seen.kind, seen.code, seen.text) == ("reply", 452, "4.3.1 Insufficient system storage")
    assert decisions_at(receiver, stage) == ["rule 1 'under test'"]


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_reply_permanent_multi_line(receiver_factory: ReceiverFactory, stage: Stage) -> None:
    action = 'reply = { code = 554, enhanced = "5.7.1", text = ["first line", "second line"] }'
    receiver = start(receiver_factory, stage, action)
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(stage)
    assert (seen.kind, seen.code) == ("reply", 554)
    assert seen.lines == ["5.7.1 first line", "5.7.1 second line"]
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        replies = [event.text for event in journal.events(kind="reply")]
    assert "554-5.7.1 first line\r\n554 5.7.1 second line" in replies


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_reply_421_closes_the_connection(receiver_factory: ReceiverFactory, stage: Stage) -> None:
    receiver = start(receiver_factory, stage, 'reply = "421 4.7.0 too busy, closing"')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(stage)
        assert (seen.kind, seen.code, seen.text) == ("reply", 421, "4.7.0 too busy, closing")
        if stage is not Stage.GREETING:  # smtplib itself hangs up after a 421 greeting
            assert probe.step(Stage.EHLO).kind == "closed"
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        assert [event.text for event in journal.events(kind="drop")] == ["closed after reply"]


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_stall_then_reply(receiver_factory: ReceiverFactory, stage: Stage) -> None:
    receiver = start(receiver_factory, stage, 'stall = "30s"\nreply = "451 4.4.2 slow"')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(stage)
    assert (seen.kind, seen.code) == ("reply", 451)
    assert seen.seconds >= 30 / TIME_SCALE - TIMER_GRANULARITY


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_stall_then_accept(receiver_factory: ReceiverFactory, stage: Stage) -> None:
    receiver = start(receiver_factory, stage, 'stall = "30s"')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(stage)
    assert seen.kind == "reply"
    assert seen.code < 400
    assert seen.seconds >= 30 / TIME_SCALE - TIMER_GRANULARITY


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_stall_forever(receiver_factory: ReceiverFactory, stage: Stage) -> None:
    receiver = start(receiver_factory, stage, 'stall = "forever"\nreply = "250 never sent"')
    with Probe(receiver.host, receiver.port, timeout=1.0) as probe:
        seen = probe.until(stage)
    assert seen.kind == "timeout"
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        assert not [event for event in journal.events(kind="reply") if "never sent" in event.text]


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_drop_before_reply(receiver_factory: ReceiverFactory, stage: Stage) -> None:
    receiver = start(receiver_factory, stage, 'drop = "before-reply"')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(stage)
    assert seen.kind == "closed"
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        replies_at_stage = [e for e in journal.events(kind="reply") if e.stage == stage.value]
        assert replies_at_stage == []
        assert [event.text for event in journal.events(kind="drop")] == ["dropped before replying"]


@pytest.mark.parametrize("stage", STAGES, ids=str)
def test_accept_behaves_like_a_normal_server(
    receiver_factory: ReceiverFactory, stage: Stage
) -> None:
    receiver = start(receiver_factory, stage, "accept = true")
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(Stage.QUIT)
        assert seen.code == 221
        assert [probe.seen[step].code for step in STAGES] == [220, 250, 250, 250, 354, 250, 221]
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        [stored] = journal.messages()
    assert stored.message_id == probe.message_id
    assert stored.rcpt_tos == ("user@receiver.test",)


def test_drop_mid_data_after_n_bytes(receiver_factory: ReceiverFactory) -> None:
    receiver = start(receiver_factory, Stage.DATA, 'drop = "mid-data"\ndrop_after_bytes = 5000')
    big_body = ("x" * 70 + "\r\n") * 3000  # about 216 KB: far more than is read
    with Probe(receiver.host, receiver.port) as probe:
        assert probe.until(Stage.DATA).code == 354
        seen = probe.step(Stage.EOD, body=big_body.encode())
    assert seen.kind == "closed"
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        assert [event.text for event in journal.events(kind="drop")] == [
            "dropped mid-DATA after 5000 bytes"
        ]
        assert journal.messages() == []


def test_drop_mid_data_of_a_short_message_drops_at_the_dot(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = start(receiver_factory, Stage.DATA, 'drop = "mid-data"\ndrop_after_bytes = 100000')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(Stage.EOD)
    assert seen.kind == "closed"
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        assert journal.messages() == []


def test_drop_after_dot_reads_everything_and_never_replies(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = start(receiver_factory, Stage.EOD, 'drop = "after-dot"')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(Stage.EOD)
    assert seen.kind == "closed"
    receiver.wait_idle()  # the session ended and all it did is journaled
    with receiver.journal() as journal:
        [drop] = journal.events(kind="drop")
        assert drop.text.startswith("dropped after end-of-data")
        assert drop.message_id == probe.message_id
        assert journal.messages() == []


def test_refusing_greeting_answers_503_until_quit(receiver_factory: ReceiverFactory) -> None:
    """RFC 5321 3.1: after a 554 greeting the server waits for QUIT and refuses the rest."""
    receiver = start(receiver_factory, Stage.GREETING, 'reply = "554 5.3.2 no service"')
    with socket.create_connection((receiver.host, receiver.port), timeout=10) as raw:
        lines = raw.makefile("rb")
        assert lines.readline() == b"554 5.3.2 no service\r\n"
        raw.sendall(b"EHLO client.test\r\n")
        assert lines.readline().startswith(b"503 ")
        raw.sendall(b"QUIT\r\n")
        assert lines.readline().startswith(b"221 ")
        assert lines.readline() == b""  # and then it hangs up


def test_drop_after_dot_can_keep_the_message_first(receiver_factory: ReceiverFactory) -> None:
    """RFC 1047: the server committed the message, then died before replying."""
    receiver = start(receiver_factory, Stage.EOD, 'drop = "after-dot"\nkeep_message = true')
    with Probe(receiver.host, receiver.port) as probe:
        seen = probe.until(Stage.EOD)
    assert seen.kind == "closed"
    receiver.wait_idle()
    with receiver.journal() as journal:
        [stored] = journal.messages()
        [drop] = journal.events(kind="drop")
    assert stored.message_id == probe.message_id
    assert drop.text == f"stored message {stored.id}, then dropped without a reply"


def test_a_stall_after_dot_can_commit_the_message_before_it_stalls(
    receiver_factory: ReceiverFactory,
) -> None:
    """RFC 1047's server: it has the message and is slow to say so. A client that gives up
    waiting (here: a 0.3 s timeout against a stall of an hour) leaves it stored all the same,
    so a sender that then sends it again makes a duplicate."""
    receiver = start(receiver_factory, Stage.EOD, 'stall = "1h"\nkeep_message = true')
    with Probe(receiver.host, receiver.port, timeout=0.3) as probe:
        seen = probe.until(Stage.EOD)
    assert seen.kind == "timeout"

    def stored() -> list[MessageRecord]:
        with receiver.journal() as journal:
            return journal.messages()

    [message] = wait_until(stored, timeout=10, what="the committed message in the journal")
    assert message.message_id == probe.message_id
    with receiver.journal() as journal:  # and the stall is still going on: no reply was sent
        assert [e.stage for e in journal.events(kind="reply")][-1] == "data"


def test_without_keep_message_a_stall_after_dot_stores_nothing_until_it_replies(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = start(receiver_factory, Stage.EOD, 'stall = "1h"')
    with Probe(receiver.host, receiver.port, timeout=0.3) as probe:
        assert probe.until(Stage.EOD).kind == "timeout"
    with receiver.journal() as journal:
        assert journal.decisions()  # the rule fired and is stalling
        assert journal.messages() == []


def test_a_client_that_hangs_up_at_once_leaves_no_session_open(
    receiver_factory: ReceiverFactory,
) -> None:
    receiver = receiver_factory()
    for _ in range(20):
        socket.create_connection((receiver.host, receiver.port), timeout=5).close()
    receiver.wait_idle(timeout=5)
    assert receiver.open_sessions == 0
