"""The host stall probe sees a stall that holds every other thread of the harness, and a
warped case's ± grows by K times the worst stall during it."""

from __future__ import annotations

import datetime
import sys
import time

import pytest

from harness.cases.host_stalls import PERIOD, HostStallProbe
from harness.ledger import CaseEvidence, case_warp_uncertainty
from harness.targets.clock_warp import WarpedClock
from tests.targets.test_clock_warp import K, _case, _records

STALL = 0.25


def _hold_the_gil(seconds: float) -> tuple[float, float]:
    """Keep every other thread of this process off the interpreter for `seconds`: the switch
    interval is longer than the stall, and the loop makes no blocking call. (start, end)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds * 4)
    try:
        start = time.time()
        end_mono = time.monotonic() + seconds
        while time.monotonic() < end_mono:
            pass
        return start, time.time()
    finally:
        sys.setswitchinterval(previous)


def test_a_stall_that_holds_the_harness_is_measured_where_it_happened() -> None:
    with HostStallProbe() as probe:
        before = time.time()
        time.sleep(10 * PERIOD)  # the probe is running: its first wake-ups are on record
        start, end = _hold_the_gil(STALL)
        time.sleep(10 * PERIOD)  # the late wake-up is recorded once the probe runs again
    # the wake-up that was due when the stall began came (most of) the stall late
    assert probe.worst_between(start - 2 * PERIOD, end) >= STALL * 0.8
    assert probe.worst_between(before - 60.0, before - 30.0) == 0.0  # before the probe ran


def test_a_warped_cases_uncertainty_counts_k_times_the_hosts_worst_stall() -> None:
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    logged = _records(clock, [submission.wall + a.t / K + 0.010 for a in attempts])
    evidence = CaseEvidence(
        fates=(),
        attempts=tuple(attempts),
        dsns=(),
        foreign_bounces=(),
        journal_excerpt=(),
        observed_for=10.0 * K,
    )
    quiet = case_warp_uncertainty(logged, submission, evidence, K, 1.0)
    stalled = case_warp_uncertainty(logged, submission, evidence, K, 1.0, host_stall=0.078)
    assert quiet is not None
    assert stalled is not None
    assert stalled - quiet == pytest.approx(0.078 * K)
    chained = case_warp_uncertainty(
        logged, submission, evidence, K, 1.0, chained=True, host_stall=0.078
    )
    # Haraka-like: every attempt before the last can have been moved by such a stall
    assert chained == pytest.approx((stalled - 1.0) * (len(attempts) - 1) + 1.0)
