"""The public API: what `harness` exports is importable, documented and deliberate."""

from __future__ import annotations

import inspect

import harness
import harness.receiver


def test_every_exported_name_exists_and_is_documented() -> None:
    for module in (harness, harness.receiver):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"


def test_exports_are_sorted_and_unique() -> None:
    for module in (harness, harness.receiver):
        assert list(module.__all__) == sorted(set(module.__all__))


def test_errors_share_one_base() -> None:
    errors = [getattr(harness, name) for name in harness.__all__ if name.endswith("Error")]
    assert errors
    for error in errors:
        assert issubclass(error, harness.MailstormError)
        assert error.__doc__


def test_star_import_gives_exactly_the_exports() -> None:
    namespace: dict[str, object] = {}
    exec("from harness import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(harness.__all__)
