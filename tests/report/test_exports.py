"""harness.report's public API: sorted, unique, documented, errors on the one base class."""

from __future__ import annotations

import inspect

import harness.report
from harness.errors import MailstormError


def test_exports_are_sorted_documented_and_exist() -> None:
    assert list(harness.report.__all__) == sorted(set(harness.report.__all__))
    for name in harness.report.__all__:
        value = getattr(harness.report, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"harness.report.{name} has no docstring"
        if name.endswith("Error"):
            assert issubclass(value, MailstormError)
