"""Containers: engine access, run labels and cleanup, and the images targets run from.

Importing this package sets TESTCONTAINERS_RYUK_DISABLED=true (unless already set): Ryuk, the
reaper container testcontainers starts by default, comes from a registry we cannot assume is
reachable, and our label-based cleanup (`harness.containers.cleanup`) does its job instead.
testcontainers reads the variable when it first starts a container, so importing this package
before that is enough; drivers import it anyway for `run_labels()`.
"""

from __future__ import annotations

import os

from harness.containers.base_image import ensure_base_image
from harness.containers.cleanup import CleanupResult, remove_all, remove_own, remove_stale
from harness.containers.engine import bridge_gateway, docker_client
from harness.containers.images import ensure_target_image
from harness.containers.labels import run_labels
from harness.containers.target_metadata import (
    TargetMetadata,
    known_targets,
    load_target_metadata,
)

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

__all__ = [
    "CleanupResult",
    "TargetMetadata",
    "bridge_gateway",
    "docker_client",
    "ensure_base_image",
    "ensure_target_image",
    "known_targets",
    "load_target_metadata",
    "remove_all",
    "remove_own",
    "remove_stale",
    "run_labels",
]
