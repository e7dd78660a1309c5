"""Removal of what mailstorm created in the engine, by label.

Three scopes, each for one moment of a run's life:

- `remove_stale`: at the start of a session, everything of runs whose owner process is gone
  (killed with SIGKILL, crashed, machine rebooted). Resources of live owners, including other
  xdist workers of the current run, are never touched; neither are those owned on another host,
  whose pids we cannot check.
- `remove_own`: at the end of a session, everything this process owns in the current run.
- `remove_all`: `mailstorm clean`, on request: every mailstorm container and network, and with
  `images=True` our images too.

Containers go first, then networks (a network with containers attached cannot be removed),
then images (targets before the base they are built on). Cleanup is best effort: a resource
that cannot be removed is reported in `failed`, and the rest still goes.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from harness.containers import labels
from harness.containers.labels import Owner, owner_of, process_start

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Removed:
    """One resource that cleanup removed (or could not remove)."""

    kind: str
    id: str
    name: str
    owner: Owner | None

    def __str__(self) -> str:
        owner = f" (run {self.owner.run_id}, pid {self.owner.pid})" if self.owner else ""
        return f"{self.kind} {self.name} {self.id[:12]}{owner}"


@dataclass
class CleanupResult:
    """What a cleanup removed, and what it could not remove with the reason."""

    removed: list[Removed] = field(default_factory=list)
    failed: list[tuple[Removed, str]] = field(default_factory=list)

    def extend(self, other: CleanupResult) -> None:
        self.removed.extend(other.removed)
        self.failed.extend(other.failed)


def owner_alive(owner: Owner) -> bool:
    """Whether a resource's owner may still run: False only when we know it is gone.

    An owner on another host cannot be checked, so it counts as alive. On this host the pid
    must exist, not be a zombie, and (where /proc tells) have started when the label says:
    a recycled pid belongs to someone else.
    """
    if owner.host and owner.host != socket.gethostname():
        return True
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    if _is_zombie(owner.pid):
        return False
    started = process_start(owner.pid)
    return not (owner.pid_start and started and started != owner.pid_start)


def remove_stale(client: docker.DockerClient) -> CleanupResult:
    """Remove the containers and networks of runs whose owner process is gone."""

    def stale(attrs_labels: dict[str, str]) -> bool:
        owner = owner_of(attrs_labels)
        return owner is not None and not owner_alive(owner)

    return _remove(client, labels.ALL_OURS, keep=lambda found: not stale(found))


def remove_own(client: docker.DockerClient, owner: Owner | None = None) -> CleanupResult:
    """Remove the containers and networks `owner` (default: this process) owns in its run."""
    owner = owner or labels.current_owner()
    filters: labels.Filters = {
        "label": [f"{labels.RUN}={owner.run_id}", f"{labels.PID}={owner.pid}"]
    }
    return _remove(client, filters, keep=lambda found: False)


def remove_all(
    client: docker.DockerClient, *, images: bool = False, run_id: str | None = None
) -> CleanupResult:
    """Remove every mailstorm container and network (of run `run_id` only, if given), whoever
    owns them, and with `images` our images too."""
    filters = labels.ALL_OURS
    if run_id:
        filters = {"label": [f"{labels.MAILSTORM}=1", f"{labels.RUN}={run_id}"]}
    result = _remove(client, filters, keep=lambda found: False)
    if images:
        result.extend(_remove_images(client))
    return result


def _remove(
    client: docker.DockerClient,
    filters: labels.Filters,
    keep: Callable[[dict[str, str]], bool],
) -> CleanupResult:
    result = CleanupResult()
    containers = client.containers.list(all=True, filters=filters, ignore_removed=True)
    networks = client.networks.list(filters=filters)
    for container in containers:
        found = dict(container.labels)
        if keep(found):
            continue
        removed = Removed("container", container.id or "", container.name or "", owner_of(found))
        _attempt(result, removed, partial(container.remove, force=True, v=True))
    for network in networks:
        found = dict(network.attrs.get("Labels") or {})
        if keep(found):
            continue
        removed = Removed("network", network.id or "", network.name or "", owner_of(found))
        _attempt(result, removed, network.remove)
    return result


def _remove_images(client: docker.DockerClient) -> CleanupResult:
    result = CleanupResult()
    found = client.images.list(filters=labels.ALL_OURS)
    # Targets are children of the base: remove them first, or the base cannot go.
    ordered = sorted(found, key=lambda image: image.labels.get(labels.IMAGE) == "base")
    for image in ordered:
        name = ", ".join(image.tags) or "<untagged>"
        removed = Removed("image", (image.id or "").removeprefix("sha256:"), name, None)
        _attempt(result, removed, partial(client.images.remove, str(image.id), force=True))
    return result


def _attempt(result: CleanupResult, removed: Removed, action: Callable[[], Any]) -> None:
    try:
        action()
    except docker.errors.NotFound:
        return  # someone else removed it meanwhile: the goal is reached
    except (docker.errors.APIError, requests.RequestException) as error:
        explanation = getattr(error, "explanation", None) or str(error)
        result.failed.append((removed, str(explanation)))
        logger.warning("could not remove %s: %s", removed, explanation)
        return
    result.removed.append(removed)
    logger.info("removed %s", removed)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] in ("Z", "X")
