"""Every registered sender MTA, in its container, against the real receiver: the contract test
each target passes on every Debian suite it is built on (`all`: postfix@trixie, ...). The retry
timing is tested on the default suite; a version column's schedule is the matrix's to measure.

The three behaviours every target with a queue must show before the conformance suites can trust
it: a routed message is delivered; a temporary RCPT failure (`rcpt-450`) is queued and retried
within the target's scaled schedule; a permanent one (`rcpt-550`) bounces and the DSN comes back.
A sender without a queue (`queues = False`, the control column) delivers here too; what it does
with a failure is its own contract (test_noqueue_target.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness import MessageRecord, parse_plan
from harness.dsn import DeliveryReport, parse_dsn
from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.receiver import EventRecord, Receiver
from harness.targets import (
    BOUNCE_DOMAIN,
    RouteTable,
    SenderTarget,
    Submission,
    all_target_names,
    target_class,
    target_names,
)
from harness.waiting import wait_until

pytestmark = pytest.mark.docker

#: One real hour passes in a minute: Postfix's 5-minute backoff becomes 5 s.
TIME_SCALE = 60.0
DOMAIN = "receiver.test"
#: Wall seconds allowed on top of a scaled schedule for process start-up and queue scans.
SLACK_WALL = 2.0


@pytest.fixture(params=all_target_names())
def target_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[n for n in all_target_names() if target_class(n).queues])
def queueing_target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[n for n in target_names() if target_class(n).queues])
def default_suite_target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    gateway: str,
    name: str,
    plan: str = "",
) -> tuple[Receiver, SenderTarget]:
    receiver = receiver_factory(parse_plan(plan), listen=[f"{gateway}:0"], time_scale=TIME_SCALE)
    routes = RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], receiver.host, receiver.port)
    return receiver, target_factory(name, routes, time_scale=TIME_SCALE)


@contextmanager
def refusing_routes(gateway: str) -> Iterator[RouteTable]:
    """Routes to a port on the gateway that is bound and not listening, for as long as the
    block runs: the kernel refuses every connection to it."""
    with socket.socket() as bound:
        bound.bind((gateway, 0))
        yield RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], gateway, bound.getsockname()[1])


def journal_summary(receiver: Receiver) -> str:
    with receiver.journal() as journal:
        messages = [(m.message_id or f"DSN for {m.dsn_for}") for m in journal.messages()]
        replies = [e.text for e in journal.events(kind="reply") if e.stage in ("rcpt", "eod")]
    return f"messages {messages}; replies {replies[-6:]}"


def messages_for(receiver: Receiver, message_id: str) -> list[MessageRecord]:
    with receiver.journal() as journal:
        return journal.messages(message_id=message_id)


def rcpt_decisions(receiver: Receiver, message_id: str) -> list[EventRecord]:
    with receiver.journal() as journal:
        return [e for e in journal.decisions() if e.stage == "rcpt" and e.message_id == message_id]


def assert_one_attempt_and_nothing_after(
    receiver: Receiver, target: SenderTarget, sent: Submission
) -> None:
    """A sender without a queue, after its one attempt failed: nothing is left that could
    retry, hold or bounce the message."""
    assert len(rcpt_decisions(receiver, sent.message_id)) == 1
    assert target.queue() == []
    with receiver.journal() as journal:
        assert journal.dsns() == []
        assert journal.messages(message_id=sent.message_id) == []


def test_routed_message_is_delivered(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    container_gateway: str,
    target_name: str,
) -> None:
    receiver, target = start(receiver_factory, target_factory, container_gateway, target_name)
    sent = target.submit([f"user@{DOMAIN}"], subject="delivered")
    [stored] = wait_until(
        lambda: messages_for(receiver, sent.message_id),
        timeout=60,
        what=f"{target_name} to deliver {sent.message_id}",
        seen=lambda: journal_summary(receiver),
    )
    assert stored.rcpt_tos == (f"user@{DOMAIN}",)
    assert stored.mail_from == sent.sender
    assert b"Subject: delivered" in stored.content
    wait_until(
        lambda: not [q for q in target.queue() if q.message_id == sent.message_id],
        timeout=30,
        what="the delivered message to leave the queue",
        seen=lambda: str(target.queue()),
    )
    assert target.version
    assert target.package_version


def test_rcpt_450_is_deferred_and_retried_within_the_scaled_schedule(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    container_gateway: str,
    default_suite_target: str,
) -> None:
    target_name = default_suite_target
    plan = f'[[rule]]\nstage = "rcpt"\nrecipient_domain = "{DOMAIN}"\nreply = "450 4.2.0 busy"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, target_name, plan)
    window = target.first_retry_window()
    assert window is not None, f"{target_name} queues, so it says when it retries"
    earliest, latest = window
    sent = target.submit([f"user@{DOMAIN}"])

    def two_attempts() -> list[EventRecord]:
        attempts = rcpt_decisions(receiver, sent.message_id)
        return attempts[:2] if len(attempts) >= 2 else []

    first, second = wait_until(
        two_attempts,
        timeout=latest / TIME_SCALE + 60,
        what=f"{target_name} to retry after 450",
        seen=lambda: journal_summary(receiver),
    )
    gap_real = (second.mono - first.mono) * TIME_SCALE
    slack_real = SLACK_WALL * TIME_SCALE
    assert earliest - slack_real <= gap_real <= latest + slack_real, (
        f"first retry after {gap_real:.0f} real s; "
        f"the scaled schedule allows {earliest:.0f}-{latest:.0f}"
    )
    [queued] = [q for q in target.queue() if q.message_id == sent.message_id]
    assert [r.address for r in queued.recipients] == [f"user@{DOMAIN}"]
    with receiver.journal() as journal:
        assert journal.dsns() == []  # a temporary failure is no reason to bounce


def test_rcpt_550_bounces_and_the_dsn_reaches_the_receiver(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    container_gateway: str,
    queueing_target: str,
) -> None:
    target_name = queueing_target
    plan = (
        f'[[rule]]\nstage = "rcpt"\nrecipient_domain = "{DOMAIN}"\n'
        'reply = "550 5.1.1 <{recipient}> recipient rejected"\n'
    )
    receiver, target = start(receiver_factory, target_factory, container_gateway, target_name, plan)
    sent = target.submit([f"user@{DOMAIN}"])

    def dsn() -> list[MessageRecord]:
        with receiver.journal() as journal:
            return [d for d in journal.dsns() if d.dsn_for == sent.message_id]

    [report] = wait_until(
        dsn, timeout=60, what=f"{target_name}'s DSN", seen=lambda: journal_summary(receiver)
    )
    assert report.mail_from == ""
    assert report.rcpt_tos == (sent.sender,)
    assert f"<user@{DOMAIN}> recipient rejected".encode() in report.content
    parsed = parse_dsn(report.content)
    if target.plain_bounce is not None:
        # A plain notice (dma): no report to read, but the original's headers come back.
        assert "no message/delivery-status part" in parsed.problems, parsed.problems
        assert parsed.original_message_id == sent.message_id
        assert not parsed.recipients
    else:
        assert_failed_report(parsed, sent.message_id)
    assert len(rcpt_decisions(receiver, sent.message_id)) == 1  # no retry after a 5xx
    wait_until(
        lambda: not [q for q in target.queue() if q.message_id == sent.message_id],
        timeout=30,
        what="the bounced message to leave the queue",
        seen=lambda: str(target.queue()),
    )


def assert_failed_report(parsed: DeliveryReport, message_id: str) -> None:
    """A delivery-status report of one failed recipient, as every queueing sender but one with
    a `plain_bounce` owes. Its envelope is the conformance checks' to judge (OpenSMTPD 7.6
    sends multipart/mixed, bounce.c)."""
    assert not [p for p in parsed.problems if "top-level type" not in p], parsed.problems
    assert parsed.original_message_id == message_id
    [block] = parsed.recipients
    assert (block.final_recipient, block.action) == (f"user@{DOMAIN}", "failed")
    # RFC 3464 wants a permanent status and the remote reply quoted; the exact enhanced code is
    # the sender's choice (Postfix copies 5.1.1 from the reply, Exim 4.96 says 5.0.0).
    assert block.status.startswith("5.")
    # Diagnostic-Code is optional (RFC 3464 2.3.6): Postfix and Exim quote the reply there;
    # OpenSMTPD 7.6 only in the human-readable part (bounce.c), which is checked above.
    if block.diagnostic_text is not None:
        assert block.remote_reply_code == 550
        assert f"<user@{DOMAIN}> recipient rejected" in block.diagnostic_text


def test_a_submission_returns_while_its_delivery_is_still_under_way(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    container_gateway: str,
    default_suite_target: str,
) -> None:
    """The matrix hands every case its messages on time only if a submission returns once the
    message is queued, not once it is delivered: the submissions of hundreds of cases go out one
    after another. Here the receiver never greets, so the delivery lasts until the sender's
    greeting timeout, and the submission must be back while that session is still open."""
    plan = '[[rule]]\nstage = "greeting"\nstall = "forever"\n'
    receiver, target = start(
        receiver_factory, target_factory, container_gateway, default_suite_target, plan
    )
    target.submit([f"user@{DOMAIN}"])
    # Back from the submission: the delivery's first session is open now or opens soon, and
    # none has ended yet (a submission that waited for the delivery returns after its end).
    wait_until(
        lambda: receiver.open_sessions > 0,
        timeout=60,
        what=f"{default_suite_target}'s delivery session to be open after the submission",
        seen=lambda: journal_summary(receiver),
    )
    with receiver.journal() as journal:
        ended = [e for e in journal.events() if e.kind in ("eof", "disconnect")]
    assert ended == [], f"a session ended before the submission returned: {ended}"
