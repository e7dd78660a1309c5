"""The labels that mark what mailstorm creates in the engine, and who owns it.

Every container and network a run creates carries `mailstorm=1`, the run id, the owner's pid,
the owner's start time and the host name. That is what lets cleanup find our resources, and
tell the ones whose owner died (a run killed with SIGKILL, a crashed CI job) from those of a
run still going, without any reaper container:

- `mailstorm.run` groups the resources of one run (one id shared by all xdist workers);
- `mailstorm.pid` + `mailstorm.pid-start` name the owning process; the start time (clock ticks
  since boot, from /proc) tells a live owner from a new process that got a recycled pid;
- `mailstorm.host` says on which machine that pid lives: only there can we check it.

Images carry `mailstorm=1` and `mailstorm.image` (base or target) but no owner: they are a
cache shared by runs, removed only on request (`mailstorm clean --images`).
"""

from __future__ import annotations

import enum
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

MAILSTORM = "mailstorm"
RUN = "mailstorm.run"
PID = "mailstorm.pid"
PID_START = "mailstorm.pid-start"
HOST = "mailstorm.host"
IMAGE = "mailstorm.image"

#: The `filters` argument of docker-py's list calls.
Filters = dict[str, str | list[str] | bool]

#: Label filter that matches everything mailstorm created.
ALL_OURS: Filters = {"label": [f"{MAILSTORM}=1"]}


class ImageKind(enum.StrEnum):
    """What an image of ours is, in its `mailstorm.image` label."""

    BASE = "base"
    TARGET = "target"
    HERD_WORKER = "herd-worker"


@dataclass(frozen=True)
class Owner:
    """The process that owns (and will remove) a resource."""

    run_id: str
    pid: int
    pid_start: str
    host: str

    def labels(self) -> dict[str, str]:
        return {
            MAILSTORM: "1",
            RUN: self.run_id,
            PID: str(self.pid),
            PID_START: self.pid_start,
            HOST: self.host,
        }


_run_id: str | None = None


def set_run_id(run_id: str) -> None:
    """Name the current run (the pytest plugin uses xdist's test run id, shared by all workers)."""
    global _run_id
    _run_id = run_id


def run_id_from_env() -> str | None:
    """MAILSTORM_RUN_ID, when the user (or a parent process) names the run."""
    return os.environ.get("MAILSTORM_RUN_ID") or None


def run_id() -> str:
    """This process's run id: set_run_id's, else MAILSTORM_RUN_ID, else a new one (kept)."""
    global _run_id
    if _run_id is None:
        _run_id = run_id_from_env() or uuid.uuid4().hex[:12]
    return _run_id


def current_owner() -> Owner:
    """The owner labels of resources this process creates now (read per call: forks differ)."""
    pid = os.getpid()
    return Owner(run_id=run_id(), pid=pid, pid_start=process_start(pid), host=socket.gethostname())


def run_labels() -> dict[str, str]:
    """Labels for a container or network this process creates and owns."""
    return current_owner().labels()


def image_labels(kind: ImageKind) -> dict[str, str]:
    """Labels for an image we build: ours, of which kind, and no owner (images are shared)."""
    return {MAILSTORM: "1", IMAGE: kind.value}


def process_start(pid: int) -> str:
    """The start time of process `pid` in clock ticks since boot, "" where /proc cannot say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def owner_of(labels: dict[str, str]) -> Owner | None:
    """The owner a resource's labels name, or None when they name none (not a run resource)."""
    try:
        pid = int(labels[PID])
    except (KeyError, ValueError):
        return None
    return Owner(
        run_id=labels.get(RUN, ""),
        pid=pid,
        pid_start=labels.get(PID_START, ""),
        host=labels.get(HOST, ""),
    )
