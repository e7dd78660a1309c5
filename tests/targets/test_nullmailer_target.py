"""nullmailer's own contract, in its container against the real receiver (its smarthost).

It delivers, retries a 450 and bounces a 550 like every queueing target
(test_sender_targets.py). What is its own (src/send.cc): the pause between passes over the
queue doubles from `pausetime` (60 s) and a new message resets it for the whole queue; a
refused connection is an attempt its log shows; and its DSN goes to the same smarthost, so a
smarthost that refuses everything refuses the DSN too, and nobody hears of the failure.
"""

from __future__ import annotations

import itertools
import time

import pytest

from harness import parse_plan
from harness.containers import run_in_container
from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.targets import BOUNCE_DOMAIN, REFUSED_FIELD, LogRecord, RouteTable, SenderTarget
from harness.targets.nullmailer.driver import PASS_LATENESS
from harness.waiting import wait_until
from tests.targets.test_sender_targets import (
    DOMAIN,
    journal_summary,
    rcpt_decisions,
    refusing_routes,
    start,
)

pytestmark = pytest.mark.docker
NAME = "nullmailer"
#: Slower than the generic tests' x60: the doubling is read off intervals of 1 to 4 minutes.
TIME_SCALE = 30.0
#: Wall seconds the receiver's stamps and the warped pause can add to an interval.
JITTER_WALL = 0.5
#: Real seconds within which attempts belong to one burst of passes (below the 60 s pause).
BURST = PASS_LATENESS + JITTER_WALL * TIME_SCALE


def passes(times: list[float]) -> list[tuple[float, float]]:
    """Attempt times (real seconds) as bursts (first, last) of passes over the queue.

    One submission can start two passes: nullmailer-send reopens its trigger FIFO after
    reading it (send.cc, read_trigger), and when nullmailer-queue has not closed its end yet
    (queue.cc, trigger: write, then close), the close reads as another pull ("Trigger pulled."
    twice). The second pass resets the pause too, so a pause runs from a burst's last attempt.
    """
    bursts: list[tuple[float, float]] = []
    for t in sorted(times):
        if bursts and t - bursts[-1][1] < BURST:
            bursts[-1] = (bursts[-1][0], t)
        else:
            bursts.append((t, t))
    return bursts


def pauses(bursts: list[tuple[float, float]]) -> list[float]:
    """Real seconds from each burst's last attempt to the next burst's first."""
    return [b[0] - a[1] for a, b in itertools.pairwise(bursts)]


def refused_records(target: SenderTarget, sender: str) -> list[LogRecord]:
    key, value = REFUSED_FIELD
    return [
        r for r in target.logs() if r.fields.get("from") == sender and r.fields.get(key) == value
    ]


def assert_pause(gap: float, pause: float) -> None:
    assert pause - 1 <= gap <= pause + BURST, f"{gap:.0f} real s where the pause is {pause:.0f} s"


def test_the_pause_doubles_after_every_pass_and_a_new_message_resets_it(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    plan = f'[[rule]]\nstage = "rcpt"\nrecipient_domain = "{DOMAIN}"\nreply = "450 4.2.0 busy"\n'
    receiver = receiver_factory(
        parse_plan(plan), listen=[f"{container_gateway}:0"], time_scale=TIME_SCALE
    )
    routes = RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], receiver.host, receiver.port)
    target = target_factory(NAME, routes, time_scale=TIME_SCALE)
    first = target.submit([f"user@{DOMAIN}"])

    def bursts_of(message_id: str, count: int) -> list[tuple[float, float]]:
        found = passes([d.mono * TIME_SCALE for d in rcpt_decisions(receiver, message_id)])
        return found if len(found) >= count else []

    # 60 + 120 + 240 real seconds: 14 wall seconds at x30.
    four = wait_until(
        lambda: bursts_of(first.message_id, 4),
        timeout=60,
        what="three retries of the deferred message",
        seen=lambda: journal_summary(receiver),
    )
    for gap, pause in zip(pauses(four[:4]), (60, 120, 240), strict=True):
        assert_pause(gap, pause)
    # The next pause is 480 s; a new message pulls the trigger and a pass comes at once, with
    # the pause back at 60 s for the whole queue.
    second = target.submit([f"other@{DOMAIN}"])
    submitted = second.mono * TIME_SCALE

    def after_submission() -> list[tuple[float, float]]:
        decisions = rcpt_decisions(receiver, first.message_id)
        later = passes([d.mono * TIME_SCALE for d in decisions if d.mono >= second.mono])
        return later if len(later) >= 2 else []

    reset, following = wait_until(
        after_submission,
        timeout=60,
        what="the deferred message's retries after a new message",
        seen=lambda: journal_summary(receiver),
    )[:2]
    assert reset[0] - submitted < BURST, "the trigger starts a pass at once"
    assert_pause(following[0] - reset[1], 60)
    queued = {q.message_id for q in target.queue()}
    assert {first.message_id, second.message_id} <= queued


def test_a_refused_connection_is_an_attempt_in_its_log_and_the_message_stays(
    target_factory: TargetFactory, container_gateway: str
) -> None:
    with refusing_routes(container_gateway) as routes:
        target = target_factory(NAME, routes, time_scale=TIME_SCALE)
        sent = target.submit([f"user@{DOMAIN}", f"other@{DOMAIN}"])

        def refused() -> list[LogRecord]:
            found = refused_records(target, sent.sender)
            stamps = [r.time.timestamp() * TIME_SCALE for r in found if r.time is not None]
            return found if len(passes(stamps)) >= 2 else []

        records = wait_until(
            refused, timeout=60, what="a refused attempt and its retry in nullmailer's log"
        )
    first = records[0]
    assert first.fields["relay"] == "none"
    assert first.fields["status"] == "deferred"
    assert first.fields["to"] == f"user@{DOMAIN}, other@{DOMAIN}"
    # Stamped on the warped clock and converted back to wall instants: the retry comes a
    # pause of 60 nullmailer seconds after the first burst.
    stamps = [r.time.timestamp() * TIME_SCALE for r in records if r.time is not None]
    assert_pause(pauses(passes(stamps))[0], 60)
    [queued] = [q for q in target.queue() if q.message_id == sent.message_id]
    assert [r.address for r in queued.recipients] == [f"user@{DOMAIN}", f"other@{DOMAIN}"]
    assert queued.arrival is not None
    assert abs(queued.arrival.timestamp() - sent.wall) < 5


def test_a_smarthost_that_refuses_everything_refuses_the_dsn_and_nobody_hears(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    plan = '[[rule]]\nstage = "rcpt"\nreply = "550 5.7.1 relaying denied"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, NAME, plan)
    sent = target.submit([f"user@{DOMAIN}"])

    def bounced() -> list[LogRecord]:
        return [
            r
            for r in target.logs()
            if r.fields.get("from") == sent.sender and r.fields.get("status") == "bounced"
        ]

    wait_until(bounced, timeout=60, what="the message to be bounced")
    refused_dsn = wait_until(
        lambda: [
            r
            for r in target.logs()
            if r.fields.get("from") == "" and r.fields.get("to") == sent.sender
        ],
        timeout=60,
        what="nullmailer's DSN to be tried at the smarthost",
        seen=lambda: journal_summary(receiver),
    )
    # The DSN failed permanently too: nullmailer does not bounce a bounce (send.cc, bounce_msg).
    assert [r.fields["status"] for r in refused_dsn] == ["bounced"]
    assert target.queue() == []
    with receiver.journal() as journal:
        assert journal.dsns() == []
        replies = [e.text for e in journal.events(kind="reply") if e.stage == "rcpt"]
    # the message's RCPT and the DSN's, both refused
    assert len(replies) == 2, replies
    assert all(r.startswith("550 ") for r in replies), replies


def test_after_a_timed_out_delivery_it_waits_on_the_next_stalled_one_without_a_limit(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    """`sendtimeout` (1 h) kills a delivery the server never answers, and reads the child's
    SIGCHLD from its self-pipe at once, before it has come (lib/selfpipe.cc, waitsig() without
    a timeout reads the non-blocking pipe). The SIGCHLD arrives later and stays in the pipe, so
    the next delivery's wait returns at once with it and nullmailer-send blocks in waitpid() on
    the new child (send.cc, catchsender; lib/forkexec.cc, wait_status): a second server that
    never answers holds it for good, with every other message behind it."""
    scale = 600.0  # the 1 h timeout in 6 wall seconds
    plan = '[[rule]]\nstage = "greeting"\nstall = "forever"\n'
    receiver = receiver_factory(
        parse_plan(plan), listen=[f"{container_gateway}:0"], time_scale=scale
    )
    routes = RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], receiver.host, receiver.port)
    target = target_factory(NAME, routes, time_scale=scale)
    target.submit([f"user@{DOMAIN}"])
    timeout = target.scaling.get("sendtimeout").default_seconds

    def sessions() -> list[tuple[float, float | None]]:
        with receiver.journal() as journal:
            ended = {e.session_id: e.mono for e in journal.events(kind="disconnect")}
            return [(s.mono, ended.get(s.id)) for s in journal.sessions()]

    def blocked_in_waitpid() -> str:
        """nullmailer-send's current system call, read as its own user (root may not)."""
        container = target.container.get_wrapped_container()
        command = "cat /proc/$(pgrep -xo nullmailer-send)/syscall"
        return run_in_container(container, ["sh", "-c", command], user="mail").text

    def held_past_two_timeouts() -> str:
        found = sessions()
        if len(found) < 2 or found[1][1] is not None:
            return ""
        open_for = (time.monotonic() - found[1][0]) * scale
        return blocked_in_waitpid() if open_for > 2 * timeout else ""

    syscall = wait_until(
        held_past_two_timeouts,
        timeout=60,
        what="nullmailer's second stalled delivery to outlast twice its sendtimeout",
        seen=lambda: f"sessions {sessions()}; log {target.exec(f'tail -5 {target.log_path}')}",
    )
    (first_start, first_end), (second_start, _) = sessions()[:2]
    assert first_end is not None
    # The first delivery was killed at its timeout: the receiver saw the sender hang up. (The
    # timer starts when the protocol is forked, a few nullmailer seconds before it connects.)
    assert timeout - BURST <= (first_end - first_start) * scale <= timeout + BURST
    assert "Sending timed out, killing protocol" in target.exec(f"cat {target.log_path}")
    # The second has no end, and nullmailer-send sits in wait4() (x86-64 system call 61).
    assert syscall.split()[0] == "61", syscall
    assert (time.monotonic() - second_start) * scale > 2 * timeout
