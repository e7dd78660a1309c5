"""A case whose fault never fired is an error, never a pass; a refusal window counts from the log.

The never-firing rule is deterministic: it names a client address no container has, so the MTA
meets the default accepting server, delivers at once, and the old engine judged
`delivered-after-recovery` a pass. The refusal has no rule at all: its proof is the refused
connection in the MTA's own log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.scenarios import Tier, parse_scenario

NEVER_FIRES = """
[scenario]
id = "never-fires"
description = "A 451 for a client that never connects."
observe = "30m"
checks = ["delivered-after-recovery"]

[[rule]]
stage = "rcpt"
client = "192.0.2.1"
reply = "451 4.3.0 later"
"""

REFUSED = """
[scenario]
id = "refused-briefly"
description = "Nothing listens; the proof of the fault is in the MTA's log."
observe = "10m"
checks = ["queued-not-bounced"]
refuse_until = "forever"
"""


@pytest.mark.docker
@pytest.mark.parametrize("target", ["postfix", "exim"])
def test_a_fault_that_never_fired_is_an_error_and_a_refusal_is_proved_from_the_log(
    target: str, tmp_path: Path
) -> None:
    scenarios = [parse_scenario(NEVER_FIRES), parse_scenario(REFUSED)]
    matrix = run_matrix(
        MatrixRun([target], scenarios, tmp_path, {Tier.FINE: 60.0, Tier.COARSE: 60.0})
    )
    by_id = {case.scenario: case for case in matrix.cases}
    never = by_id["never-fires"]
    assert never.verdict == "error"
    assert never.error is not None
    assert never.error.startswith("fault not exercised")
    assert [(e.needed, e.fired) for e in never.exercise] == [(1, 0)]
    assert never.checks == ()
    assert never.fates["delivered"] == 1  # the evidence stays: it shows what the MTA met instead
    refused = by_id["refused-briefly"]
    assert refused.error is None, refused.error
    [refusal] = refused.exercise
    assert refusal.fault.startswith("connection refused")
    assert (refusal.needed, refusal.fired) == (1, 1)
    assert refused.verdict == "pass"
