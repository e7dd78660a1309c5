"""The public API of harness.containers: deliberate, documented, sorted."""

from __future__ import annotations

import inspect

import harness.containers


def test_exports_exist_are_documented_and_sorted() -> None:
    names = list(harness.containers.__all__)
    assert names == sorted(set(names))
    for name in names:
        value = getattr(harness.containers, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"harness.containers.{name} has no docstring"
