"""The Locust side's message source, imported directly (gevent without Locust's patching):
retries come due no earlier than the class's next offset, past the give-up a message expires."""

from __future__ import annotations

import time

from harness.herd.run.curve import Pacer, constant_curve, curve_class
from harness.herd.run.load.message_source import MessageSource
from harness.message_ids import id_from_address

#: Retries 0.2 s and 0.4 s after the first attempt (time factor 1), nothing after 0.5 s.
POLICY = curve_class("fast", (0.0, 0.2, 0.4), give_up=0.5, concurrency=1)


def one_message_source() -> MessageSource:
    curve = constant_curve(1000.0, 0.001, policy=POLICY)  # one message, due at once
    return MessageSource(curve, Pacer(curve, max_messages=1), time_factor=1.0, message_size=100)


def test_a_deferred_message_comes_back_at_its_next_offset_then_expires() -> None:
    source = one_message_source()
    source.start()
    try:
        first = source.take()
        assert id_from_address(first.sender) == first.id
        assert first.recipient == "user@stage-0.herd.mailstorm.test"
        source.deferred(first)

        again = source.take()  # blocks in gevent's hub until the scheduler releases it

        assert again is first
        assert again.attempts == 2
        assert source.wall() - first.first_wall >= POLICY.retry_offsets[0]
        source.deferred(again)
        third = source.take()
        assert source.wall() - first.first_wall >= POLICY.retry_offsets[1]
        source.deferred(third)  # the next offset (0.6 s) is past give_up: expired, not queued
    finally:
        source.stop()

    counts = source.counts
    assert (counts.offered, counts.attempts, counts.deferred) == (1, 3, 3)
    assert (counts.retries, counts.expired, counts.delivered) == (2, 1, 0)
    assert source.backlog == 0
    assert source.finished


def test_bounced_and_delivered_messages_settle_for_good() -> None:
    source = one_message_source()
    source.start()
    try:
        message = source.take()
        assert source.in_flight == 1
        source.bounced(message)
    finally:
        source.stop()
    assert source.in_flight == 0
    assert source.counts.bounced == 1
    assert source.backlog == 0
    record = source.record()
    assert record["by_class"] == {"fast": {"offered": 1, "bounced": 1}}
    assert record["last_settled"] is not None
    assert record["last_settled"] <= time.time()


def test_a_class_named_after_a_version_column_sends_from_a_valid_domain() -> None:
    policy = curve_class("postfix@bookworm", (0.0, 0.2), give_up=0.5, concurrency=1)
    curve = constant_curve(1000.0, 0.001, policy=policy)
    source = MessageSource(curve, Pacer(curve, max_messages=1), time_factor=1.0, message_size=1)
    source.start()
    try:
        message = source.take()
        source.delivered(message)
    finally:
        source.stop()
    domain = message.sender.partition("@")[2]
    assert domain == "postfix-bookworm.herd.mailstorm.test"
    assert id_from_address(message.sender) == message.id
    assert source.counts.by_class["postfix@bookworm"]["delivered"] == 1


def test_the_attempt_log_keeps_every_session_with_its_release_and_take() -> None:
    curve = constant_curve(1000.0, 0.001, policy=POLICY)
    source = MessageSource(
        curve, Pacer(curve, max_messages=1), time_factor=1.0, message_size=1, attempt_log=True
    )
    source.start()
    try:
        first = source.take()
        source.deferred(first)
        again = source.take()
        source.delivered(again)
    finally:
        source.stop()
    assert source.attempts is not None
    deferred, delivered = source.attempts
    assert (deferred.number, deferred.outcome, delivered.number, delivered.outcome) == (
        1,
        "deferred",
        2,
        "delivered",
    )
    assert deferred.released == deferred.first_wall == delivered.first_wall
    assert delivered.released >= delivered.first_wall + POLICY.retry_offsets[0]
    assert delivered.taken >= delivered.released
