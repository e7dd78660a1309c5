"""docs/conformance.md names every check and every catalogue scenario, with the check's clause."""

from __future__ import annotations

from pathlib import Path

from harness.conformance.checks import CHECKS
from harness.scenarios import load_catalogue

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"


def test_every_check_is_listed_with_its_clause_and_level() -> None:
    text = DOC.read_text(encoding="utf-8")
    for check_id, spec in CHECKS.items():
        assert f"| `{check_id}` | {spec.clause} | {spec.level.value} |" in text, check_id


def test_every_catalogue_scenario_id_is_listed() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [s.id for s in load_catalogue() if f"`{s.id}`" not in text]
    assert not missing
