"""A scenario that holds a delivery process runs alone, so its neighbours' retries are theirs.

Exim's queue runner delivers the queue one message after another, so a blackhole that waits
out its five-minute greeting timeout delays every message behind it in the same run: the
neighbours' retries came up to five minutes after their queue run began, and their intervals
were "30 minutes minus the blocking". `matrix_groups` now gives each scenario that holds
deliveries its own instance. This runs `rcpt-451` beside `blackhole` as the matrix groups them
and measures, from Exim's own log, how long after its queue run began each retry of `rcpt-451`
came: with the blackhole in the same instance that was 300 s or more whenever the queue run
took the blackhole first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.cases import run_groups
from harness.matrix import MatrixRun, matrix_groups
from harness.scenarios import Tier, load_catalogue, select

TIME_SCALE = 60.0
#: Exim's whole-second log stamps (one wall second) plus the fork of a delivery, in real seconds.
TOLERANCE = 2 * TIME_SCALE


@pytest.mark.docker
def test_a_blackhole_does_not_delay_a_neighbours_retries(tmp_path: Path) -> None:
    rcpt_451, blackhole = select(load_catalogue(), ["rcpt-451", "blackhole"])
    # 80 real minutes each: the neighbour's first retries, and the blackhole's sessions of
    # five minutes one after another (its 2 hours would add 40 wall seconds to CI).
    neighbour = dataclasses.replace(rcpt_451, observe=80 * 60)
    silent = dataclasses.replace(blackhole, observe=80 * 60)
    groups = matrix_groups(
        MatrixRun(["exim"], [neighbour, silent], tmp_path, {Tier.FINE: TIME_SCALE})
    )
    assert [[s.id for s in g.scenarios] for g in groups] == [["rcpt-451"], ["blackhole"]]
    observed, _ = run_groups([dataclasses.replace(g, keep_logs=True) for g in groups], tmp_path)
    by_id = {case.scenario.id: case for case in observed}
    held = by_id["blackhole"].result.attempts
    assert len(held) >= 2  # the blackhole really held deliveries, minutes each
    assert all(a.duration >= 290 for a in held[:-1])

    case = by_id["rcpt-451"]
    [submission] = case.submissions
    runs = sorted(
        r.time.timestamp() + 0.5  # a stamp's whole second, taken at its middle
        for r in case.logs
        if r.time is not None and r.text.startswith("Start queue run")
    )
    retries = case.result.attempts[1:]  # the first attempt is the immediate delivery
    assert len(retries) >= 2
    delays = []
    for attempt in retries:
        wall = submission.wall + attempt.t / TIME_SCALE
        started = max(run for run in runs if run <= wall + 1.0)
        delays.append((wall - started) * TIME_SCALE)
    assert all(delay <= TOLERANCE for delay in delays), delays
