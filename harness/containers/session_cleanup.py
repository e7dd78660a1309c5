"""Cleanup around a pytest session, xdist-safe (registered by `harness.pytest_plugin`).

At session start, the controller (or the only process, without xdist) removes what dead runs
left behind: a run killed with SIGKILL cannot clean up after itself, so the next one does.
Workers skip this: the controller did it before starting them. Resources of live owners are
never removed, so this is safe with other runs going on the same engine.

At session end every process removes what it owns in the run: its pid is in the labels, so a
worker that finishes early leaves the containers of the workers still running alone.

Only the outermost session of a process does either: a session that pytester runs in-process
shares the pid of the session around it and must not remove that session's containers.
Both steps are skipped, quietly, when no engine answers: sessions without container tests must
not need Docker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import docker
import pytest

from harness.containers import labels
from harness.containers.cleanup import CleanupResult, remove_own, remove_stale
from harness.containers.engine import docker_client
from harness.errors import DockerUnavailableError

logger = logging.getLogger(__name__)

#: Seconds to wait for the engine's first answer before deciding there is none.
ENGINE_PROBE_TIMEOUT = 10.0

#: Sessions running in this process now (pytester nests them).
_active_sessions = 0


class ContainerCleanupPlugin:
    """pytest hooks: stale runs removed at session start, this process's own at the end."""

    name = "mailstorm-container-cleanup"

    def __init__(self) -> None:
        self.outermost = False
        self.at_start: CleanupResult | None = None
        self.at_end: CleanupResult | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        global _active_sessions
        self.outermost = _active_sessions == 0
        _active_sessions += 1
        if not self.outermost:
            return
        workerinput = getattr(session.config, "workerinput", None)
        if workerinput is not None:
            # One run id for all workers of this run; the controller cleaned before they started.
            labels.set_run_id(labels.run_id_from_env() or str(workerinput["testrunuid"])[:12])
            return
        self.at_start = _with_engine(remove_stale)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        global _active_sessions
        _active_sessions -= 1
        if not self.outermost:
            return
        self.at_end = _with_engine(remove_own)
        for item in self.at_end.removed if self.at_end else ():
            logger.info("removed %s, left at the end of the session", item)


def _with_engine(
    action: Callable[[docker.DockerClient], CleanupResult],
) -> CleanupResult | None:
    """Run `action` with a client, or return None when no engine answers."""
    try:
        client = docker_client(timeout=ENGINE_PROBE_TIMEOUT)
    except DockerUnavailableError:
        return None
    try:
        return action(client)
    finally:
        client.close()
