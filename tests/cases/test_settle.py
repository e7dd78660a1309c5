"""A settled case is read once its receiver's sessions have closed.

The receiver stores a message before it sends its reply and journals the reply after. Here it
commits the message at the dot, then takes 2 minutes (2 wall seconds at k = 60) to say 250: the
ledger sees a delivered, settled case for those 2 seconds while the session is still open. The
engine used to finish the case then, so its attempt showed the reply before the stall (354) and
a duration of almost nothing. Deterministic: the stall is four of the engine's polls long.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.scenarios import Tier, parse_scenario

SLOW_TO_SAY_SO = """
[scenario]
id = "slow-to-say-so"
description = "The message is committed at the dot and acknowledged 2 minutes later."
observe = "30m"
checks = ["delivered-after-recovery"]

[[rule]]
stage = "eod"
keep_message = true
stall = "2m"
reply = "250 2.0.0 committed a while ago"
"""


@pytest.mark.docker
def test_a_settled_case_waits_for_its_session_to_close(tmp_path: Path) -> None:
    scenario = parse_scenario(SLOW_TO_SAY_SO)
    run = MatrixRun(["postfix"], [scenario], tmp_path, {Tier.FINE: 60.0})
    [case] = run_matrix(run).cases
    assert case.error is None, case.error
    assert case.fates["delivered"] == 1, case.fates
    [attempt] = case.attempts
    assert attempt.stage == "eod", attempt
    assert (attempt.reply or "").startswith("250 2.0.0 committed"), attempt
    assert attempt.duration >= 2 * 60, attempt  # real seconds: the stall is in it
