"""`mailstorm clean`, run as a user runs it: the installed command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from harness.containers.labels import Owner, process_start
from tests.containers.conftest import StartContainer, exists, hostname


def mailstorm_command() -> str:
    beside_python = Path(sys.executable).with_name("mailstorm")
    found = str(beside_python) if beside_python.exists() else shutil.which("mailstorm")
    assert found, "the mailstorm command is not installed"
    return found


@pytest.mark.docker
def test_clean_removes_labelled_containers_and_networks(
    engine: docker.DockerClient, start_container: StartContainer
) -> None:
    # A live owner: clean removes on request, whoever owns it. --run keeps the test from
    # removing the containers of tests running beside it (xdist).
    me = os.getpid()
    owner = Owner(f"clean-{uuid.uuid4().hex[:8]}", me, process_start(me), hostname())
    container = start_container(owner.labels())
    network = engine.networks.create(f"mailstorm-test-{owner.run_id}", labels=owner.labels())

    done = subprocess.run(
        [mailstorm_command(), "clean", "--run", owner.run_id],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert f"removed container {container.name}" in done.stdout
    assert f"removed network {network.name}" in done.stdout
    assert not exists(engine, str(container.id))
    with pytest.raises(docker.errors.NotFound):
        engine.networks.get(str(network.id))


def test_clean_without_an_engine_says_what_to_start(tmp_path: Path) -> None:
    environment = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = subprocess.run(
        [mailstorm_command(), "clean"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("mailstorm: error: no Docker engine answers at unix://")
    assert "DOCKER_HOST" in done.stderr
