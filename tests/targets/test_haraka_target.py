"""Haraka's own contract, in its container against the real receiver.

It delivers, retries a 450 and bounces a 550 like every queueing target
(test_sender_targets.py). What is its own (outbound/config.js, hmail.js, timer_queue.js of
Haraka 3.1.6): the n-th deferral waits 2^(n+5) s, counted from the deferral, so the retries
come 64 s, 128 s and 256 s apart and later; and on the warped clock the daemon sleeps between
its timer's ticks instead of spinning (the preload library's epoll_wait, MAILSTORM_WARP_EPOLL).
"""

from __future__ import annotations

import itertools

import pytest

from harness import parse_plan
from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.receiver import Receiver
from harness.targets import BOUNCE_DOMAIN, RouteTable, SenderTarget, Submission
from harness.targets.haraka.driver import INTERVALS
from harness.waiting import wait_until
from tests.targets.test_sender_targets import DOMAIN, journal_summary, rcpt_decisions

pytestmark = pytest.mark.docker
PLAN = f'[[rule]]\nstage = "rcpt"\nrecipient_domain = "{DOMAIN}"\nreply = "450 4.2.0 busy"\n'
#: CPU seconds per wall second the daemon may use between retries: spinning on epoll_wait(0)
#: takes a whole core (1.0); sleeping until the next 1-second tick of its timer (0.35 ms of
#: wall time at x2880), about a tenth.
MAX_CPU_SHARE = 0.5
#: Haraka seconds a retry may come after its delay: the timer's 1-second tick, and the wall
#: time of the attempt before it and of the get_mx that starts it, times the scale (at x60 a
#: 100 ms stall of a loaded host is 6 s).
LATENESS = 1.0 + 9.0


def deferred_target(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    gateway: str,
    scale: float,
) -> tuple[Receiver, SenderTarget, Submission]:
    receiver = receiver_factory(parse_plan(PLAN), listen=[f"{gateway}:0"], time_scale=scale)
    routes = RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], receiver.host, receiver.port)
    target = target_factory("haraka", routes, time_scale=scale)
    return receiver, target, target.submit([f"user@{DOMAIN}"])


def retries(receiver: Receiver, sent: Submission, count: int) -> list[float]:
    """The monotonic times of the first attempt and `count` retries."""
    found = wait_until(
        lambda: got if len(got := rcpt_decisions(receiver, sent.message_id)) > count else [],
        timeout=60,
        what=f"{count} retries of the deferred message",
        seen=lambda: journal_summary(receiver),
    )
    return [e.mono for e in found]


def test_each_retry_waits_twice_the_last_counted_from_its_deferral(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    """64 s, 128 s, 256 s after each deferral (which comes a session after the attempt's start:
    milliseconds, at x60 well under LATENESS)."""
    scale = 60.0
    receiver, _, sent = deferred_target(receiver_factory, target_factory, container_gateway, scale)
    intervals = [(b - a) * scale for a, b in itertools.pairwise(retries(receiver, sent, 3))]
    for measured, nominal in zip(intervals, INTERVALS, strict=False):
        assert nominal <= measured <= nominal + LATENESS, (intervals, INTERVALS[:3])


def test_the_warped_daemon_sleeps_between_its_timers_ticks(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    """At x2880 every wait under 2.88 s would be epoll_wait(0) through libfaketime, and the
    1-second tick of the retry timer keeps one pending: the daemon would take a whole core."""
    receiver, target, sent = deferred_target(
        receiver_factory, target_factory, container_gateway, 2880.0
    )
    first = retries(receiver, sent, 1)[-1]
    cpu_before = node_cpu_seconds(target)
    last = retries(receiver, sent, 5)[-1]  # 256 s + 512 s + 1024 s + 2048 s later: 1.3 s wall
    share = (node_cpu_seconds(target) - cpu_before) / (last - first)
    assert share < MAX_CPU_SHARE, f"haraka used {share:.2f} CPU seconds per wall second"


def node_cpu_seconds(target: SenderTarget) -> float:
    """The Haraka process's user and system CPU time so far (/proc/<pid>/stat, in ticks)."""
    stat = target.exec("cat /proc/$(pgrep -xo node)/stat").rsplit(")", 1)[1].split()
    ticks = int(target.exec(["getconf", "CLK_TCK"]).strip())
    return (int(stat[11]) + int(stat[12])) / ticks
