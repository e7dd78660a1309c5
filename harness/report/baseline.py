"""Baselines: what a run should look like, pinned in git, and the differences from it.

A baseline keeps per cell only what a regression is: the fate counts, the outcome of each check
(by RFC clause) and whether the harness failed. Times, replies and DSN texts vary from run to run
and are left out, so the file changes in review only when behaviour does, one line per cell:

    {"scenario": "rcpt-450", "target": "postfix", "fates": {"queued": 1}, "checks": {...}}

`load_baseline` also accepts a whole `matrix.json` (a previous run's report as the baseline).
The format is described in docs/matrix-json.md.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.errors import MatrixFormatError, SchemaVersionError
from harness.files import write_text_atomically
from harness.report import cells
from harness.report.cells import TIMES
from harness.results import CaseResult, Fate, Matrix, Outcome
from harness.results.fields import Fields, choice
from harness.results.matrix_json import load_json_file, matrix_from_json_data

BASELINE_FORMAT = "mailstorm-baseline"
BASELINE_VERSION = 1


@dataclass(frozen=True)
class CellBaseline:
    """The reduced result of one cell: what is compared."""

    scenario: str
    target: str
    fates: dict[str, int]  #: non-zero counts only
    checks: dict[str, tuple[str, ...]]  #: clause -> the outcomes of its checks, in check order
    error: bool = False
    #: the scenario does not apply to the sender: not run (a relay's DNS/MX cells)
    not_applicable: bool = False
    #: the counts are a draw of the sender's random choices: compare which fates occur
    fates_vary: bool = False

    @classmethod
    def from_case(cls, case: CaseResult) -> CellBaseline:
        checks: dict[str, list[str]] = {}
        for check in case.checks:
            checks.setdefault(check.clause, []).append(check.outcome.value)
        return cls(
            scenario=case.scenario,
            target=case.target,
            fates=dict(cells.fate_counts(case)),
            checks={clause: tuple(outcomes) for clause, outcomes in checks.items()},
            error=bool(case.error),
            not_applicable=bool(case.not_applicable),
            fates_vary=case.fates_vary,
        )

    @property
    def state(self) -> str:
        """What the cell is before its fates and checks mean anything."""
        if self.not_applicable:
            return "not applicable"
        return "harness error" if self.error else "measured"


@dataclass(frozen=True)
class Baseline:
    """The reduced results of a run. `targets` (name -> version) is provenance, not compared."""

    run_id: str
    created: str
    targets: dict[str, dict[str, str]]
    cells: tuple[CellBaseline, ...]

    @classmethod
    def from_matrix(cls, matrix: Matrix) -> Baseline:
        return cls(
            run_id=matrix.run_id,
            created=matrix.created,
            targets={
                t.name: {"version": t.version, "package_version": t.package_version}
                for t in matrix.targets
            },
            cells=tuple(CellBaseline.from_case(case) for case in matrix.cases),
        )

    def cell(self, scenario: str, target: str) -> CellBaseline | None:
        for cell in self.cells:
            if (cell.scenario, cell.target) == (scenario, target):
                return cell
        return None


class DifferenceKind(StrEnum):
    """What kind of change a `Difference` is; stable values, for filtering in CI scripts."""

    MISSING = "missing"  #: in the baseline, not in this run
    NEW = "new"  #: in this run, not in the baseline
    FATES = "fates"  #: the fate counts changed
    CHECK = "check"  #: the outcomes of a clause's checks changed
    ERROR = "error"  #: the case became, or stopped being, a harness error
    #: the scenario started, or stopped, applying to the sender (a relay's DNS/MX cells)
    APPLICABILITY = "applicability"


@dataclass(frozen=True)
class Difference:
    """One way a cell differs from the baseline; `str()` is one readable line."""

    kind: DifferenceKind
    scenario: str
    target: str
    before: str = ""
    after: str = ""
    clause: str | None = None
    detail: str = ""  #: what the current run says about it, when it says something

    def __str__(self) -> str:
        where = f"{self.scenario} {TIMES} {self.target}"
        if self.kind == DifferenceKind.MISSING:
            line = f"{where}: missing (in the baseline as {self.before}, not in this run)"
        elif self.kind == DifferenceKind.NEW:
            line = f"{where}: new (not in the baseline): {self.after}"
        elif self.kind == DifferenceKind.FATES:
            line = f"{where}: fates {self.before} → {self.after}"
        elif self.kind == DifferenceKind.CHECK:
            line = f"{where}: {self.clause} {self.before} → {self.after}"
        else:
            line = f"{where}: {self.before} → {self.after}"
        return f"{line} ({self.detail})" if self.detail else line


def compare(baseline: Matrix | Baseline, current: Matrix | Baseline) -> list[Difference]:
    """The differences of `current` from `baseline`, cell by cell, in the baseline's order
    (then new cells in the current order). Empty when the behaviour is the same.

    A cell differs when its fate counts differ, when the outcomes of the checks of any clause
    differ (compared as a multiset: several checks may cite one clause, and their order is not
    behaviour), when it became or stopped being a harness error, or when it is missing or new.
    """
    before = baseline if isinstance(baseline, Baseline) else Baseline.from_matrix(baseline)
    after = current if isinstance(current, Baseline) else Baseline.from_matrix(current)
    cases = (
        {(c.scenario, c.target): c for c in current.cases} if isinstance(current, Matrix) else {}
    )
    differences: list[Difference] = []
    for old in before.cells:
        new = after.cell(old.scenario, old.target)
        if new is None:
            differences.append(
                Difference(DifferenceKind.MISSING, old.scenario, old.target, before=_summary(old))
            )
            continue
        differences.extend(_cell_differences(old, new, cases.get((old.scenario, old.target))))
    for new in after.cells:
        if before.cell(new.scenario, new.target) is None:
            differences.append(
                Difference(DifferenceKind.NEW, new.scenario, new.target, after=_summary(new))
            )
    return differences


def format_differences(differences: list[Difference]) -> str:
    """One line per difference, or a line saying there is none."""
    if not differences:
        return "no difference from the baseline"
    return "\n".join(str(difference) for difference in differences)


def _cell_differences(
    old: CellBaseline, new: CellBaseline, case: CaseResult | None
) -> list[Difference]:
    found: list[Difference] = []
    key = (old.scenario, old.target)
    if old.state != new.state:
        # Fates and checks of a case that was not measured mean nothing: say only that.
        detail = (case.not_applicable or case.error or "") if case is not None else ""
        kind = (
            DifferenceKind.APPLICABILITY
            if old.not_applicable != new.not_applicable
            else DifferenceKind.ERROR
        )
        return [Difference(kind, *key, before=old.state, after=new.state, detail=detail)]
    if _fates_differ(old, new):
        found.append(
            Difference(
                DifferenceKind.FATES, *key, before=_fates(old.fates), after=_fates(new.fates)
            )
        )
    for clause in dict.fromkeys([*old.checks, *new.checks]):
        was, now = old.checks.get(clause, ()), new.checks.get(clause, ())
        if Counter(was) == Counter(now):
            continue
        found.append(
            Difference(
                DifferenceKind.CHECK,
                *key,
                before=", ".join(was) or "(no check)",
                after=", ".join(now) or "(no check)",
                clause=clause,
                detail=_changed_detail(case, clause, Counter(now) - Counter(was)),
            )
        )
    return found


def _changed_detail(case: CaseResult | None, clause: str, gained: Counter[str]) -> str:
    """The detail of the current check that changed (a new deviation says what was seen)."""
    if case is None:
        return ""
    for check in case.checks:
        if check.clause == clause and gained[check.outcome.value] > 0:
            return check.detail
    return ""


def _fates_differ(old: CellBaseline, new: CellBaseline) -> bool:
    """Whether the fates changed: the counts, or for a cell whose counts are a draw of the
    sender's random choices (`fates_vary`), which fates occur at all."""
    if old.fates_vary or new.fates_vary:
        return set(_full(old.fates)) != set(_full(new.fates))
    return _full(old.fates) != _full(new.fates)


def _full(fates: dict[str, int]) -> dict[str, int]:
    return {name: count for name, count in fates.items() if count}


def _fates(fates: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in _full(fates).items()) or "no message"


def _summary(cell: CellBaseline) -> str:
    if cell.error or cell.not_applicable:
        return cell.state
    deviations = sum(outcomes.count(Outcome.DEVIATION.value) for outcomes in cell.checks.values())
    suffix = f", {deviations} deviation(s)" if deviations else ""
    return _fates(cell.fates) + suffix


# -- the file -----------------------------------------------------------------------------------


def baseline_to_json(baseline: Baseline) -> str:
    """The text of a baseline file: one line per cell, so a diff shows the cells that changed."""
    head = {
        "format": BASELINE_FORMAT,
        "baseline_version": BASELINE_VERSION,
        "from_run": baseline.run_id,
        "created": baseline.created,
    }
    lines = ["{"]
    lines.extend(f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in head.items())
    lines.append('  "targets": {')
    lines.append(
        ",\n".join(
            f"    {json.dumps(name)}: {json.dumps(info, ensure_ascii=False)}"
            for name, info in baseline.targets.items()
        )
    )
    lines.append("  },")
    lines.append('  "cells": [')
    lines.append(",\n".join(f"    {_cell_json(cell)}" for cell in baseline.cells))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(line for line in lines if line) + "\n"


def write_baseline(matrix: Matrix | Baseline, path: str | Path) -> Path:
    """Write the reduced baseline of `matrix` to `path` (for review in git)."""
    baseline = matrix if isinstance(matrix, Baseline) else Baseline.from_matrix(matrix)
    return write_text_atomically(path, baseline_to_json(baseline))


def load_baseline(path: str | Path) -> Baseline:
    """Read a baseline file, or a whole `matrix.json` used as one."""
    path = Path(path)
    data = load_json_file(path)
    if isinstance(data, dict) and "format" not in data and "cases" in data:
        return Baseline.from_matrix(matrix_from_json_data(data, source=str(path)))
    return baseline_from_json_data(data, source=str(path))


def baseline_from_json_data(data: Any, *, source: str = "baseline data") -> Baseline:
    """A `Baseline` from the parsed JSON of a baseline file."""
    top = Fields(data, "", source)
    if top.data.get("format") != BASELINE_FORMAT:
        raise MatrixFormatError(
            f'{source}: not a mailstorm baseline (no "format": "{BASELINE_FORMAT}") '
            "nor a matrix.json"
        )
    version = top.data.get("baseline_version")
    if isinstance(version, bool) or version != BASELINE_VERSION:
        raise SchemaVersionError(
            f"{source}: baseline_version {version!r} is not one this mailstorm reads "
            f"({BASELINE_VERSION}); write the baseline again with this mailstorm"
        )
    targets = top.object("targets", {})
    return Baseline(
        run_id=top.string("from_run", ""),
        created=top.string("created", ""),
        targets={
            name: {
                key: targets.object(name).string(key, "") for key in ("version", "package_version")
            }
            for name in targets.data
        },
        cells=tuple(_cell(raw) for raw in top.objects("cells")),
    )


def _cell_json(cell: CellBaseline) -> str:
    data: dict[str, Any] = {
        "scenario": cell.scenario,
        "target": cell.target,
        "fates": _full(cell.fates),
        "checks": {clause: list(outcomes) for clause, outcomes in cell.checks.items()},
    }
    if cell.error:
        data["error"] = True
    if cell.not_applicable:
        data["not_applicable"] = True
    if cell.fates_vary:
        data["fates_vary"] = True
    return json.dumps(data, ensure_ascii=False)


def _cell(data: Fields) -> CellBaseline:
    fates = data.object("fates", {})
    checks = data.object("checks", {})
    return CellBaseline(
        scenario=data.string("scenario"),
        target=data.string("target"),
        fates={
            choice(Fate, name, f"{fates.where} (key)", data.source).value: fates.integer(name)
            for name in fates.data
        },
        checks={
            clause: tuple(
                choice(Outcome, outcome, f"{checks.where}.{clause}", data.source).value
                for outcome in checks.strings(clause)
            )
            for clause in checks.data
        },
        error=data.boolean("error", False),
        not_applicable=data.boolean("not_applicable", False),
        fates_vary=data.boolean("fates_vary", False),
    )
