"""Containers: engine access, run labels and cleanup, the images MTAs run from, and the
service lifecycle (`ContainerService`) both the sender targets and the inbound Postfix use.

Ryuk, the reaper container testcontainers starts by default, comes from a registry we cannot
assume is reachable: `disable_ryuk()` turns it off when a container is about to start (importing
this package changes nothing), and our label-based cleanup does its job instead.
"""

from __future__ import annotations

from harness.containers.base_image import DEFAULT_SUITE, SUITES, check_suite, ensure_base_image
from harness.containers.cleanup import CleanupResult, remove_all, remove_own, remove_stale
from harness.containers.engine import bridge_gateway, docker_client
from harness.containers.exec_output import CommandResult, ExecStreamError, run_in_container
from harness.containers.images import ensure_derived_image, ensure_image
from harness.containers.labels import run_labels
from harness.containers.ryuk import disable_ryuk
from harness.containers.service import PUBLISH_HOST, ContainerService, ServiceError
from harness.containers.target_metadata import (
    TargetMetadata,
    is_image_folder,
    load_target_metadata,
)

__all__ = [
    "DEFAULT_SUITE",
    "PUBLISH_HOST",
    "SUITES",
    "CleanupResult",
    "CommandResult",
    "ContainerService",
    "ExecStreamError",
    "ServiceError",
    "TargetMetadata",
    "bridge_gateway",
    "check_suite",
    "disable_ryuk",
    "docker_client",
    "ensure_base_image",
    "ensure_derived_image",
    "ensure_image",
    "is_image_folder",
    "load_target_metadata",
    "remove_all",
    "remove_own",
    "remove_stale",
    "run_in_container",
    "run_labels",
]
