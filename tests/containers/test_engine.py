"""Engine access: a clear error without an engine, and the bridge address containers reach."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import docker
import pytest

from harness.containers.engine import bridge_gateway, docker_client
from harness.errors import DockerUnavailableError, MailstormError


def test_no_engine_says_what_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(DockerUnavailableError) as caught:
        docker_client()
    assert isinstance(caught.value, MailstormError)
    assert f"unix://{tmp_path}/none.sock" in str(caught.value)
    assert "DOCKER_HOST" in str(caught.value)


@pytest.mark.docker
def test_bridge_gateway_is_in_the_bridge_subnet(engine: docker.DockerClient) -> None:
    gateway = ipaddress.ip_address(bridge_gateway(engine))
    subnets = [
        ipaddress.ip_network(config["Subnet"])
        for config in engine.networks.get("bridge").attrs["IPAM"]["Config"]
    ]
    assert any(gateway in subnet for subnet in subnets)
