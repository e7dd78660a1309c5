"""harness.herd's public names: importable, documented, unique (ruff keeps them sorted)."""

from __future__ import annotations

import inspect

import harness.herd


def test_herd_exports_exist_are_documented_and_unique() -> None:
    assert len(harness.herd.__all__) == len(set(harness.herd.__all__))
    for name in harness.herd.__all__:
        value = getattr(harness.herd, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"harness.herd.{name} has no docstring"
