"""dma's own contract, in its container against the real receiver (its smarthost).

It delivers, retries a 450 and bounces a 550 like every queueing target
(test_sender_targets.py), its bounce a plain notice. What is its own (dma.c, net.c, util.c of
dma 0.13): Debian's cron job flushes the queue every 5 minutes, which wakes every sleeping
delivery and resets its backoff, so a deferred message is retried every 5 minutes, not on
dma's own lengthening pauses; any reply but 2xx to EHLO bounces the message, a 421 included,
and a notice refused for good is kept and retried for ever; and a server that never answers
kills the delivery process at CON_TIMEOUT, leaving the message to the next flush.
"""

from __future__ import annotations

import itertools

import pytest

from harness import parse_plan
from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.receiver import Receiver
from harness.targets import BOUNCE_DOMAIN, RouteTable, SenderTarget
from harness.targets.dma.driver import CON_TIMEOUT, FLUSH_PERIOD, NAP_LATENESS, SLEEP_TIMEOUT
from harness.waiting import wait_until
from tests.targets.test_sender_targets import DOMAIN, journal_summary, rcpt_decisions

pytestmark = pytest.mark.docker
NAME = "dma"
#: Wall seconds the receiver's stamps and a warped attempt can add to an interval.
JITTER_WALL = 0.3


def start(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    gateway: str,
    plan: str,
    scale: float,
) -> tuple[Receiver, SenderTarget]:
    receiver = receiver_factory(parse_plan(plan), listen=[f"{gateway}:0"], time_scale=scale)
    routes = RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], receiver.host, receiver.port)
    return receiver, target_factory(NAME, routes, time_scale=scale)


def test_the_cron_flush_retries_a_deferred_message_every_five_minutes(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    """Left alone, dma's pauses would be 5 minutes, then 7.5 to 12.5, then longer (`deliver`):
    three attempts in the first 20 minutes. Debian's `dma -q` every 5 minutes touches the flush
    file, and the sleeping process retries at the end of its next 30-s nap with its backoff
    back at 5 minutes: an attempt every 5 minutes and a nap at most.

    One flush can be seen twice. The look compares whole seconds and includes the bound
    (spool.c, `flushqueue_since`: `st_mtim.tv_sec + period >= now.tv_sec`), so a flush in the
    same second as a look, just before it, is seen by that look and by the next, a nap later:
    a second retry 30 s after the first. The flushes are a whole number of naps apart, so once
    a flush lands that close to a look, the following ones can too (one CI run had it: gaps
    of 300 s, then 30 s, then 270 s)."""
    scale = 60.0  # 5 minutes in 5 wall seconds
    plan = f'[[rule]]\nstage = "rcpt"\nrecipient_domain = "{DOMAIN}"\nreply = "450 4.2.0 busy"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, plan, scale)
    sent = target.submit([f"user@{DOMAIN}"])
    attempts = wait_until(
        lambda: found if len(found := rcpt_decisions(receiver, sent.message_id)) >= 6 else [],
        timeout=60,
        what="five retries of the deferred message",
        seen=lambda: journal_summary(receiver),
    )
    times = [a.mono * scale for a in attempts[:6]]
    period, nap = FLUSH_PERIOD[1], SLEEP_TIMEOUT[1]
    slack = NAP_LATENESS + JITTER_WALL * scale
    # A retry one nap after the one before is the same flush seen again: it goes, and the
    # flushes' retries must still come a period apart.
    per_flush = times[:2]
    for at in times[2:]:
        if at - per_flush[-1] <= nap + slack:
            assert at - per_flush[-1] >= nap - slack, times
            continue
        per_flush.append(at)
    assert len(per_flush) >= 4, times  # at most one double per flush: 5 retries, 3 flushes
    # The first retry comes at the first flush's nap (at most a period and a nap later); each
    # one after it at the next flush's, a period apart to within a nap.
    gaps = [b - a for a, b in itertools.pairwise(per_flush)]
    assert gaps[0] <= period + nap + slack, gaps
    for gap in gaps[1:]:
        assert period - nap - slack <= gap <= period + nap + slack, gaps
    assert sum(gaps) < 5 * (period + nap + slack), "dma's own pauses would take over 40 min"


def test_a_421_to_ehlo_bounces_at_once_and_the_refused_notice_is_kept_and_retried(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    """`perform_server_greeting` returns -1 for any EHLO reply but 2xx, and `deliver_to_host`
    passes it on as a permanent failure: a server that says "try later" bounces the message.
    Its notice goes to the same smarthost, which says the same. dma 0.13 logs "can not bounce
    a bounce message, discarding" and exits without removing it (mail.c, `bounce`; upstream
    added the `delqueue` in f52ebb4, October 2025, after 0.14): the next flush tries it again,
    and so on, while the smarthost refuses it."""
    scale = 60.0
    plan = '[[rule]]\nstage = "ehlo"\nreply = "421 4.3.2 try later"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, plan, scale)
    sent = target.submit([f"user@{DOMAIN}"])

    def ehlo_replies() -> list[str]:
        with receiver.journal() as journal:
            found = [e.text for e in journal.events(kind="reply") if e.stage == "ehlo"]
        return found if len(found) >= 3 else []

    replies = wait_until(
        ehlo_replies,
        timeout=30,
        what="the message's session, its notice's, and the notice's retry at the next flush",
        seen=lambda: target.exec(f"cat {target.log_path}"),
    )
    assert set(replies) == {"421 4.3.2 try later"}
    mine = [r for r in target.logs() if r.fields.get("from") == sent.sender]
    assert [r.fields["status"] for r in mine] == ["queued", "bounced", "bounced"]
    notices = [r for r in target.logs() if r.fields.get("from") == ""]
    assert [r.fields["status"] for r in notices][:3] == ["queued", "bounced", "bounced"]
    [notice] = target.queue()
    assert notice.sender == ""
    assert [r.address for r in notice.recipients] == [sent.sender]
    with receiver.journal() as journal:
        assert journal.messages() == []


def test_a_server_that_never_answers_kills_the_delivery_and_the_next_flush_retries(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    """`do_timeout` calls sigsetjmp() and returns; at CON_TIMEOUT (5 min) the SIGALRM handler's
    siglongjmp() lands in that finished frame and the stack protector aborts the process
    (util.c; exit 134, seen on the real clock too). No outcome is logged, the queue file is
    left unlocked, and the next `dma -q` starts a new delivery: every attempt lasts the
    timeout, and each begins at a flush."""
    scale = 600.0  # the 5-minute timeout and the 5-minute flush in half a wall second
    plan = '[[rule]]\nstage = "greeting"\nstall = "forever"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, plan, scale)
    sent = target.submit([f"user@{DOMAIN}"])

    def ended_sessions() -> list[tuple[float, float]]:
        with receiver.journal() as journal:
            sessions = {s.id: s.mono for s in journal.sessions()}
            ends = {e.session_id: e.mono for e in journal.events(kind="disconnect")}
        found = [(sessions[i] * scale, ends[i] * scale) for i in sorted(ends) if i in sessions]
        return found if len(found) >= 3 else []

    sessions = wait_until(
        ended_sessions,
        timeout=60,
        what="three attempts that the client ended",
        seen=lambda: journal_summary(receiver),
    )
    slack = NAP_LATENESS + JITTER_WALL * scale
    for start_t, end_t in sessions:
        assert abs(end_t - start_t - CON_TIMEOUT[1]) <= slack, (start_t, end_t)
    records = [r for r in target.logs() if r.fields.get("from") == sent.sender]
    assert not [r for r in records if "remote delivery deferred" in r.text]
    died = [r for r in records if r.fields.get("status") == "deferred"]
    assert len(died) >= 2
    assert all("no outcome logged" in r.text for r in died)
    [queued] = [q for q in target.queue() if q.message_id == sent.message_id]
    assert [r.address for r in queued.recipients] == [f"user@{DOMAIN}"]
