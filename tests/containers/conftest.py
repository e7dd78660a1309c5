"""Fixtures for the container tests: a real engine, the base image, labelled containers."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from harness.containers.base_image import ensure_base_image
from harness.containers.engine import docker_client
from harness.errors import DockerUnavailableError

StartContainer = Callable[[dict[str, str]], Container]


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """The Docker engine; a missing one fails the test with what to start (not a skip: a CI
    without an engine must not look green). Deselect with `-m "not docker"` on such a machine."""
    try:
        client = docker_client()
    except DockerUnavailableError as error:
        pytest.fail(f"{error} (or deselect these tests with -m 'not docker')", pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(engine: docker.DockerClient) -> str:
    return ensure_base_image(engine)


@pytest.fixture
def start_container(engine: docker.DockerClient, base_image: str) -> Iterator[StartContainer]:
    """Start `sleep infinity` containers with the given labels; removed at teardown if left."""
    started: list[Container] = []

    def start(labels: dict[str, str]) -> Container:
        container = engine.containers.run(
            base_image, ["sleep", "infinity"], detach=True, labels=labels, init=True
        )
        started.append(container)
        return container

    yield start
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def exists(engine: docker.DockerClient, container_id: str) -> bool:
    """Whether the engine still has the container."""
    try:
        engine.containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


def hostname() -> str:
    return socket.gethostname()
