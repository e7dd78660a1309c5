"""Ryuk off: testcontainers' reaper container comes from a registry we cannot assume.

Our label-based cleanup (`harness.containers.cleanup`) does its job instead. This sets
testcontainers' own setting when a container is about to start, not at import time (importing
mailstorm changes no environment); a user who set `TESTCONTAINERS_RYUK_DISABLED` explicitly keeps
their choice.
"""

from __future__ import annotations

import os

from testcontainers.core.config import testcontainers_config


def disable_ryuk() -> None:
    """Turn Ryuk off for this process, unless `TESTCONTAINERS_RYUK_DISABLED` says otherwise."""
    if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
        testcontainers_config.ryuk_disabled = True
