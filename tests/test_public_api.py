"""The public API: what each public package exports is importable, documented and deliberate.

Public: `harness` (the receiver, plans, errors), and the packages a user's own code builds on:
results and their files, the case engine, the matrix and schedule runners, the main job, the
reports, the targets, the scenarios, the ledger, the checks, the containers and the herd. Each
exports a sorted, unique `__all__` of documented names; errors derive from `MailstormError`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import harness
import harness.herd
from harness.errors import HerdError, MailstormError

PUBLIC_PACKAGES = (
    "harness",
    "harness.bench",
    "harness.cases",
    "harness.conformance",
    "harness.containers",
    "harness.herd",
    "harness.ledger",
    "harness.matrix",
    "harness.receiver",
    "harness.report",
    "harness.results",
    "harness.scenarios",
    "harness.schedule",
    "harness.targets",
)


def public(name: str) -> ModuleType:
    return importlib.import_module(name)


def isort_key(name: str) -> tuple[int, str]:
    """ruff's order for `__all__` (RUF022): CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_exports_are_sorted_unique_existing_and_documented(package: str) -> None:
    module = public(package)
    names = list(module.__all__)
    assert names == sorted(set(names), key=isort_key), f"{package}.__all__ is not sorted, unique"
    assert inspect.getdoc(module), f"{package} has no docstring"
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{package}.{name} has no docstring"
        if inspect.isclass(value) and issubclass(value, Exception):
            assert issubclass(value, MailstormError), f"{package}.{name} is not a MailstormError"


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_star_import_gives_exactly_the_exports(package: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {package} import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(public(package).__all__)


def test_errors_share_one_base() -> None:
    errors = [getattr(harness, name) for name in harness.__all__ if name.endswith("Error")]
    assert errors
    for error in errors:
        assert issubclass(error, harness.MailstormError)
        assert error.__doc__


def herd_modules() -> list[str]:
    """Every module of `harness.herd` but the Locust side (importing Locust patches gevent in)."""
    return sorted(
        info.name
        for info in pkgutil.walk_packages(harness.herd.__path__, "harness.herd.")
        if not info.name.startswith("harness.herd.run.load")
    )


@pytest.mark.parametrize("module_name", herd_modules())
def test_the_herds_errors_derive_from_herd_error(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name, value in vars(module).items():
        if (
            inspect.isclass(value)
            and issubclass(value, Exception)
            and value.__module__ == module_name
        ):
            assert issubclass(value, HerdError), f"{module_name}.{name} is not a HerdError"
