"""The no-queue application sender's own contract, in its container against the real receiver.

It delivers like every target (test_sender_targets.py); what sets it apart is what it does with
a failure: one attempt, the outcome logged, nothing queued, no retry, no DSN. Its submissions
return at once, as a web request does, so its sessions run while the harness goes on.
"""

from __future__ import annotations

import pytest

from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.receiver import Receiver
from harness.targets import SenderTarget, Submission
from harness.waiting import wait_until
from tests.targets.test_sender_targets import (
    DOMAIN,
    TIME_SCALE,
    assert_one_attempt_and_nothing_after,
    journal_summary,
    start,
)

pytestmark = pytest.mark.docker
NAME = "noqueue"


def finished(target: SenderTarget, *sent: Submission) -> list[dict[str, str]]:
    """The outcome lines of the `sent` messages, once no sending program runs (before: none):
    one look at the processes and one read of the log for all of them."""
    # [s]: the pattern does not match the shell that runs pgrep, whose command line holds it
    running = target.exec("pgrep -f 'bin/mailstorm-[s]end' || true", check=False).split()
    if running:
        return []
    logs = target.logs()
    senders = {s.sender for s in sent}
    ids = {r.queue_id for r in logs if r.fields.get("from") in senders}
    return [r.fields for r in logs if r.queue_id in ids and "status" in r.fields]


def test_a_450_is_the_end_of_the_message(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    plan = f'[[rule]]\nstage = "rcpt"\nrecipient_domain = "{DOMAIN}"\nreply = "450 4.2.0 busy"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, NAME, plan)
    sent = target.submit([f"user@{DOMAIN}"])
    [outcome] = wait_until(
        lambda: finished(target, sent),
        timeout=60,
        what="the sender's one attempt to end",
        seen=lambda: journal_summary(receiver),
    )
    assert outcome["status"] == "failed"
    assert outcome["reason"] == "450 4.2.0 busy"
    # Its process has exited: nothing is left that could retry, hold or bounce the message.
    assert_one_attempt_and_nothing_after(receiver, target, sent)


def test_a_550_is_logged_as_rejected_without_a_dsn(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    plan = '[[rule]]\nstage = "rcpt"\nreply = "550 5.1.1 <{recipient}> recipient rejected"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, NAME, plan)
    sent = target.submit([f"user@{DOMAIN}"])
    [outcome] = wait_until(
        lambda: finished(target, sent), timeout=60, what="the rejected attempt to end"
    )
    assert outcome["status"] == "rejected"
    assert outcome["reason"] == f"550 5.1.1 <user@{DOMAIN}> recipient rejected"
    with receiver.journal() as journal:
        assert journal.dsns() == []


def session_ends(receiver: Receiver) -> dict[int, float]:
    """When each session ended (the client closed or went away), by session id."""
    with receiver.journal() as journal:
        ends = [e for e in journal.events() if e.kind in ("eof", "disconnect")]
    return {e.session_id: e.mono for e in sorted(ends, key=lambda e: -e.mono)}


def test_submissions_return_at_once_and_a_silent_server_times_out_on_the_scaled_timeout(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    plan = '[[rule]]\nstage = "greeting"\nstall = "forever"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, NAME, plan)
    timeout = target.scaling.get("smtp_timeout")
    assert timeout.configured_seconds == 300 / TIME_SCALE  # exact at k = 60
    sent = [target.submit([f"user{n}@{DOMAIN}"]) for n in range(3)]

    outcomes = wait_until(
        lambda: finished(target, *sent), timeout=60, what="the three attempts to time out"
    )
    assert len(outcomes) == 3, outcomes
    for outcome in outcomes:
        assert outcome["status"] == "failed"
        assert "timed out" in outcome["reason"], outcome
    # Every submission returned before any session ended: the three were open together.
    ends = wait_until(
        lambda: found if len(found := session_ends(receiver)) == 3 else {},
        timeout=30,
        what="the three sessions to end",
        seen=lambda: journal_summary(receiver),
    )
    last_submitted = max(s.mono for s in sent)
    assert min(ends.values()) > last_submitted, (ends, last_submitted)
