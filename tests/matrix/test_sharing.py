"""Scenarios sharing one MTA container give the same verdicts as each in its own container.

The risk is per-destination state: a sender that marks a next hop dead after one scenario's
failures would delay another scenario's mail. Each scenario has its own receiver port and
domain, so nothing is shared; this test shows it, with a scenario that fails every connection
(`refused`) beside ones that need prompt delivery.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.report import compare, format_differences
from harness.scenarios import Tier, load_catalogue, select
from harness.targets import target_class, target_names

#: The senders with a queue that share a container: the no-queue one shares nothing a
#: neighbour could delay, and a relay with one smarthost (nullmailer) never shares one.
QUEUEING = [
    n for n in target_names() if target_class(n).queues and not target_class(n).single_smarthost
]

#: Each observed for 2 real hours (greylist's 3 would add a wall minute to CI and the same
#: prompt retry rcpt-450 asks for).
SCENARIOS = ["refused", "rcpt-550", "rcpt-450"]


@pytest.mark.docker
def test_sharing_a_container_changes_no_verdict(tmp_path: Path) -> None:
    scenarios = select(load_catalogue(), SCENARIOS)
    # The matrix's own fine-tier scale (2 real hours in 2 minutes), where three full runs gave
    # identical verdicts. Faster scales make Postfix's first retry after a 450 sometimes come
    # within 0.4 s of wall time (under 60 real seconds: at k = 150 and 300, not understood yet;
    # whole-second next-attempt times explain part of it), flipping the retry-delayed check.
    scales = {Tier.FINE: 60.0, Tier.COARSE: 60.0}

    def run(isolate: bool) -> MatrixRun:
        work = tmp_path / ("isolated" if isolate else "shared")
        work.mkdir()
        return MatrixRun(QUEUEING, scenarios, work, scales, isolate=isolate)

    # Both at once, each in its own containers: the same load on both sides, half the wall time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        shared_run = pool.submit(run_matrix, run(isolate=False))
        isolated_run = pool.submit(run_matrix, run(isolate=True))
        shared, isolated = shared_run.result(), isolated_run.result()
    assert len(shared.cases) == len(isolated.cases) == len(SCENARIOS) * len(QUEUEING)
    assert all(case.error is None for case in shared.cases + isolated.cases)
    differences = compare(shared, isolated)
    assert differences == [], format_differences(differences)
    assert [c.verdict for c in shared.cases] == [c.verdict for c in isolated.cases]
