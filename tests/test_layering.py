"""Data flows one way: no module imports one from a room above its own.

scenario -> receiver/DNS/targets -> ledger -> checks -> case engine -> matrix/schedule (and the
herd, the benchmarks) -> reports -> main job -> the interfaces (CLI, pytest plugin, demo, the root
package's re-exports). Below everything: the result vocabulary and the small shared modules.
The fault plan (`harness.receiver.plan`, `plan_loader`) and the test zone (`harness.dns.zone`)
are the scenario's language, so they sit with the scenarios although the receiver and DNS
packages host them. Imports inside one room are free
(file-level cycles are caught by `../shared/tools/import_cycles.py` and by the test below).

Every import statement counts, at module level or inside a function, so a lazy import cannot
hide an upward dependency.
"""

from __future__ import annotations

import ast
from importlib.resources import files
from pathlib import Path

import pytest

PACKAGE = Path(str(files("harness")))

#: Rooms from the bottom up; a module belongs to the room of its longest matching prefix.
ROOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "vocabulary",
        (
            "harness.errors",
            "harness.durations",
            "harness.files",
            "harness.ports",
            "harness.python_path",
            "harness.waiting",
            "harness.lifecycle",
            "harness.message_ids",
            "harness.dsn",
            "harness.results",
        ),
    ),
    (
        "scenario",
        (
            "harness.scenarios",
            "harness.receiver.plan",
            "harness.receiver.plan_loader",
            "harness.dns.zone",
        ),
    ),
    (
        "receiver/targets",
        ("harness.receiver", "harness.dns", "harness.containers", "harness.targets"),
    ),
    ("ledger", ("harness.ledger",)),
    ("checks", ("harness.conformance",)),
    ("case engine", ("harness.cases",)),
    ("runs", ("harness.matrix", "harness.schedule", "harness.herd", "harness.bench")),
    ("reports", ("harness.report",)),
    ("main job", ("harness.main_job",)),
    (
        "interfaces",
        ("harness.cli", "harness.pytest_plugin", "harness.demo", "harness.__main__", "harness"),
    ),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> int:
    """The index of `module`'s room (the longest prefix wins: plan_loader before receiver)."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(ROOMS):
        for prefix in prefixes:
            # The root package is a room of its own module only, not of everything below it.
            inside = prefix != "harness" and module.startswith(prefix + ".")
            if (module == prefix or inside) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    assert best is not None, f"{module} is in no room: add it to ROOMS"
    return best[1]


def imported_modules(path: Path) -> set[str]:
    """The `harness` modules a file imports (`from harness import x` counts as harness.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py")
                is_package = PACKAGE.parent / Path(*candidate.split(".")) / "__init__.py"
                found.add(candidate if is_module.exists() or is_package.exists() else node.module)
    return {name for name in found if name == "harness" or name.startswith("harness.")}


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[module_name(p) for p in SOURCES])
def test_no_module_imports_a_room_above_its_own(path: Path) -> None:
    module = module_name(path)
    own = room(module)
    upward = sorted(
        f"{name} ({ROOMS[room(name)][0]})"
        for name in imported_modules(path)
        if room(name) > own and not (name != "harness" and module.startswith(name + "."))
    )
    assert not upward, f"{module} ({ROOMS[own][0]}) imports from above: {', '.join(upward)}"


def test_the_rooms_are_the_flow_the_readme_names() -> None:
    names = [name for name, _ in ROOMS]
    assert names.index("scenario") < names.index("receiver/targets") < names.index("ledger")
    assert names.index("ledger") < names.index("checks") < names.index("runs")
    assert names.index("runs") < names.index("reports") < names.index("interfaces")


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    # The check itself must be able to fail: a ledger file importing the matrix is caught.
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from harness.matrix import MatrixRun\n", encoding="utf-8")
    (upward,) = imported_modules(source)
    assert room(upward) > room("harness.ledger.fates")
