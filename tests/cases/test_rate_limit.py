"""`rate-limit-421` really turns sessions away: the MTA opens them at once and meets the limit.

Before, the six messages went out one after another and each session ended before the next
began, so the 421 rule never fired and the cell passed on the default accept. The test watches
only the first 10 minutes (the burst), not the retries.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.scenarios import Tier, load_catalogue, select


@pytest.mark.docker
@pytest.mark.parametrize("target", ["postfix", "exim"])
def test_rate_limit_421_turns_concurrent_sessions_away(target: str, tmp_path: Path) -> None:
    [scenario] = select(load_catalogue(), ["rate-limit-421"])
    burst = dataclasses.replace(scenario, observe=10 * 60, settle=False)
    [case] = run_matrix(MatrixRun([target], [burst], tmp_path, {Tier.FINE: 60.0})).cases
    assert case.error is None, case.error
    limit, slow = case.exercise
    assert limit.fired >= 1, limit
    assert slow.fired >= 1, slow
    refused = [a for a in case.attempts if (a.reply or "").startswith("421")]
    assert refused
    [sessions] = [c for c in case.checks if c.measured.get("check") == "sessions-under-421"]
    assert sessions.measured["refused_421"] == len(refused)
    assert isinstance(sessions.measured["peak_sessions"], int)
    assert sessions.measured["peak_sessions"] >= 2
