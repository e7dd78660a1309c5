"""Fixtures for the benchmark tests: Postfix's tools, found or fetched once per session."""

from __future__ import annotations

import pytest

from harness.bench import PostfixTools, find_postfix_tools


@pytest.fixture(scope="session")
def postfix_tools() -> PostfixTools:
    """smtp-sink and smtp-source as the benchmark finds them (fetched into the cache if need be)."""
    return find_postfix_tools()
