"""One test per scenario x target: the case was measured, and its verdict is recorded.

A deviation from a SHOULD or MUST is a result about the MTA, recorded on the test (and in the
reports), not a failure of the suite; a case the harness could not measure is. A scenario that
does not apply to the sender (a relay's DNS/MX scenarios) is skipped, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.results import Matrix


@pytest.mark.docker
def test_case(
    conformance_matrix: Matrix,
    scenario_id: str,
    target: str,
    record_property: Callable[[str, object], None],
) -> None:
    case = conformance_matrix.case(scenario_id, target)
    assert case is not None, f"{scenario_id} on {target} was not run"
    if case.not_applicable:
        pytest.skip(f"not applicable: {case.not_applicable}")
    assert case.error is None, case.error
    assert case.checks, "no check was judged"
    record_property("verdict", case.verdict)
    record_property("fates", case.fates)
    for check in case.checks:
        outcome = f"{check.outcome.value}: {check.detail}"
        record_property(f"{check.clause} {check.level.value}", outcome)
