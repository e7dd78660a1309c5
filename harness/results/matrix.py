"""The compliance matrix: every case of a run and the targets they ran on.

What `matrix.json` holds and every report is drawn from. `SCHEMA_VERSION` changes when a field
changes meaning; readers refuse versions they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.results.case import CaseResult
from harness.results.schedule import Schedule
from harness.results.schedule_spread import ScheduleSpread

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TargetInfo:
    """One sender MTA of the run: its version, the time scales it ran at, its retry schedule."""

    name: str
    version: str
    package_version: str
    time_scales: tuple[float, ...]
    parameters: tuple[dict[str, Any], ...] = ()  #: scaled parameters and their distortion
    schedule: Schedule | None = None  #: its retry schedule, when one was measured
    #: min-max of that schedule over its runs, when it was measured more than once
    schedule_spread: ScheduleSpread | None = None


@dataclass(frozen=True)
class Matrix:
    """A run: scenarios x targets, one `CaseResult` per cell."""

    run_id: str
    created: str  #: ISO 8601, UTC
    targets: tuple[TargetInfo, ...]
    cases: tuple[CaseResult, ...]
    schema_version: int = SCHEMA_VERSION

    def case(self, scenario: str, target: str) -> CaseResult | None:
        """The cell of `scenario` on `target`; None when the run did not have it."""
        for case in self.cases:
            if (case.scenario, case.target) == (scenario, target):
                return case
        return None
