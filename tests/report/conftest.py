"""Fixtures of the report tests: a realistic synthetic matrix (see builders.py)."""

from __future__ import annotations

import pytest

from harness.results import Matrix
from tests.report.builders import build_matrix


@pytest.fixture
def matrix() -> Matrix:
    return build_matrix()
