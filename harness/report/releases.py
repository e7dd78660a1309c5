"""Versions side by side: the cells where one MTA's releases disagree.

`postfix`, `postfix@bookworm` and `postfix@forky` are one MTA (a *family*) built on three
Debian suites, so three releases. Where their cells for one scenario differ in verdict, fates
(or, for a scenario whose fates are the sender's random draw, which fates occur), the DSN's
status or a check's outcome, the release changed the MTA's behaviour there: the reports mark
those cells and list them together. Equal cells are not listed; times are compared in the
schedules, where each carries its uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.report import cells
from harness.results import CaseResult, Matrix
from harness.targets.registry import SUITE_SEPARATOR

#: The mark a grid cell gets when its release family disagrees on its scenario.
DIFFERS_MARK = "\N{GREEK CAPITAL LETTER DELTA}"


def release_family(target: str) -> str:
    """The MTA a target column is a release of: `postfix@bookworm` -> `postfix`."""
    return target.partition(SUITE_SEPARATOR)[0]


def release_columns(matrix: Matrix) -> dict[str, list[str]]:
    """Family -> its target columns in grid order, for families with two or more columns."""
    families: dict[str, list[str]] = {}
    for name in cells.targets(matrix):
        families.setdefault(release_family(name), []).append(name)
    return {family: names for family, names in families.items() if len(names) > 1}


@dataclass(frozen=True)
class ReleaseDifference:
    """One scenario on which one family's releases disagree."""

    scenario: str
    family: str
    cases: tuple[CaseResult, ...]  #: one per column that ran it, grid order

    @property
    def differing_checks(self) -> list[str]:
        """The clauses whose outcome is not the same in every release (`RFC5321 4.5.4.1`)."""
        outcomes: dict[str, set[str]] = {}
        for case in self.cases:
            for check in case.checks:
                outcomes.setdefault(check.clause, set()).add(check.outcome.value)
        present = [{check.clause for check in case.checks} for case in self.cases]
        return [
            clause
            for clause, seen in outcomes.items()
            if len(seen) > 1 or any(clause not in clauses for clauses in present)
        ]


def release_differences(matrix: Matrix) -> list[ReleaseDifference]:
    """Every (scenario, family) whose releases' cells disagree, in grid order."""
    found: list[ReleaseDifference] = []
    families = release_columns(matrix)
    for scenario in cells.scenarios(matrix):
        for family, names in families.items():
            cases = tuple(
                case for name in names if (case := matrix.case(scenario, name)) is not None
            )
            if len(cases) > 1 and len({_comparable(case) for case in cases}) > 1:
                found.append(ReleaseDifference(scenario, family, cases))
    return found


def differing_cells(matrix: Matrix) -> set[tuple[str, str]]:
    """(scenario, target) of every cell in a release difference, for the grids' mark."""
    return {
        (difference.scenario, case.target)
        for difference in release_differences(matrix)
        for case in difference.cases
    }


def _comparable(case: CaseResult) -> tuple[object, ...]:
    """What must be equal for two releases to behave alike on a scenario."""
    if case.fates_vary:  # a random draw: which fates occur, not how often
        fates: tuple[object, ...] = tuple(name for name, _ in cells.fate_counts(case))
    else:
        fates = tuple(cells.fate_counts(case))
    status = case.dsn.status if case.dsn is not None else None
    checks = tuple(sorted((check.clause, check.outcome.value) for check in case.checks))
    return (case.verdict, bool(case.error), fates, status, checks)
