"""The bundled scenario catalogue (`harness/scenarios/bundled/`), in the order the matrix shows it.

The files are package data, found through `importlib.resources`, so an installed mailstorm runs
the catalogue from any directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from harness.errors import PlanError
from harness.scenarios.loader import load_scenario
from harness.scenarios.model import Kind, Scenario

#: The bundled catalogue, shipped inside the package.
CATALOGUE_DIR = Path(str(resources.files("harness.scenarios") / "bundled"))
_KIND_ORDER = {kind: position for position, kind in enumerate(Kind)}


def load_catalogue(directory: Path = CATALOGUE_DIR) -> list[Scenario]:
    """Every scenario file in `directory`, ordered by family then by file name."""
    if not directory.is_dir():
        raise PlanError(f"{directory}: scenario catalogue not found")
    scenarios = [load_scenario(path) for path in sorted(directory.glob("*.toml"))]
    seen: dict[str, str] = {}
    for scenario in scenarios:
        if scenario.id in seen:
            raise PlanError(
                f"{scenario.source}: scenario id {scenario.id!r} is also in {seen[scenario.id]}"
            )
        seen[scenario.id] = scenario.source
    return sorted(scenarios, key=lambda s: (_KIND_ORDER[s.kind], Path(s.source).name))


def select(scenarios: list[Scenario], ids: list[str]) -> list[Scenario]:
    """The scenarios named in `ids` (glob patterns allowed), in catalogue order."""
    import fnmatch

    chosen = [s for s in scenarios if any(fnmatch.fnmatch(s.id, pattern) for pattern in ids)]
    unknown = [p for p in ids if not any(fnmatch.fnmatch(s.id, p) for s in scenarios)]
    if unknown:
        known = ", ".join(s.id for s in scenarios)
        raise PlanError(f"no scenario matches {', '.join(unknown)} (known: {known})")
    return chosen
