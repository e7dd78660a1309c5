"""Cleanup by label, on a real engine: dead runs go at session start, live ones stay, and a run
killed with SIGKILL leaves nothing behind once the next run has started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from harness.containers.cleanup import remove_stale
from harness.containers.labels import Owner, process_start
from tests.containers.conftest import StartContainer, exists, hostname

pytestmark = pytest.mark.docker

#: A test file for a subprocess run: it starts a container of its run, says which, and hangs
#: (bounded) until it is killed.
CONTAINER_THEN_HANG = """
import pathlib
import time

from harness.containers.base_image import ensure_base_image
from harness.containers.engine import docker_client
from harness.containers.labels import run_labels


def test_starts_a_container(hang):
    client = docker_client()
    container = client.containers.run(
        ensure_base_image(client), ["sleep", "infinity"], detach=True, labels=run_labels(),
        init=True,
    )
    pathlib.Path("container-id.part").write_text(container.id)
    pathlib.Path("container-id.part").rename("container-id")
    deadline = time.monotonic() + (120 if hang else 0)
    while time.monotonic() < deadline:
        time.sleep(0.2)
"""

NOTHING = "def test_nothing():\n    pass\n"


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def test_remove_stale_takes_dead_owners_and_keeps_live_ones(
    engine: docker.DockerClient, start_container: StartContainer
) -> None:
    dead = start_container(Owner("dead-run", dead_pid(), "", hostname()).labels())
    me = os.getpid()
    live = start_container(Owner("live-run", me, process_start(me), hostname()).labels())
    elsewhere = start_container(Owner("far-run", dead_pid(), "", "another-host").labels())

    result = remove_stale(engine)

    assert dead.id in {item.id for item in result.removed}
    assert not exists(engine, str(dead.id))
    assert exists(engine, str(live.id))
    assert exists(engine, str(elsewhere.id)), "an owner on another host cannot be checked"


def test_session_start_removes_containers_of_dead_runs(
    pytester: pytest.Pytester, engine: docker.DockerClient, start_container: StartContainer
) -> None:
    dead = start_container(Owner("dead-run", dead_pid(), "", hostname()).labels())
    me = os.getpid()
    live = start_container(Owner("live-run", me, process_start(me), hostname()).labels())
    pytester.makepyfile(NOTHING)

    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)

    assert not exists(engine, str(dead.id))
    assert exists(engine, str(live.id)), "a live run's container must survive another session"


def test_session_end_removes_what_the_session_left(
    pytester: pytest.Pytester, engine: docker.DockerClient, base_image: str
) -> None:
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef hang():\n    return False\n")
    pytester.makepyfile(CONTAINER_THEN_HANG)

    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)

    container_id = (pytester.path / "container-id").read_text()
    assert not exists(engine, container_id)


def test_run_killed_with_sigkill_leaves_nothing_after_the_next_run(
    pytester: pytest.Pytester, engine: docker.DockerClient, base_image: str
) -> None:
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef hang():\n    return True\n")
    pytester.makepyfile(test_killed=CONTAINER_THEN_HANG)
    id_file: Path = pytester.path / "container-id"
    output = (pytester.path / "killed-run.log").open("w")
    killed = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_killed.py"],
        cwd=pytester.path,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    container_id = ""
    try:
        wait_for(lambda: id_file.exists() or killed.poll() is not None, 120, "the run's container")
        assert id_file.exists(), (pytester.path / "killed-run.log").read_text()
        container_id = id_file.read_text()
        assert engine.containers.get(container_id).status == "running"
    finally:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        output.close()
    assert killed.returncode == -signal.SIGKILL
    assert exists(engine, container_id), "the killed run had no chance to clean up"

    pytester.makepyfile(test_next=NOTHING)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_next.py").assert_outcomes(
        passed=1
    )

    assert not exists(engine, container_id)
