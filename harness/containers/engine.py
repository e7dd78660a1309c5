"""Access to the Docker engine: a client from the usual environment, and where containers reach us.

The client is configured the way the docker CLI is (DOCKER_HOST, DOCKER_TLS_VERIFY,
DOCKER_CERT_PATH), read each time a client is made, never frozen at import. When no engine
answers, the error says what to start instead of showing a connection traceback.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import docker
import docker.errors
import requests

from harness.errors import DockerUnavailableError

#: Seconds a call to the engine may take before we give up on it (image builds stream, so
#: this bounds the silence between two lines of output, not the build).
DEFAULT_TIMEOUT = 120.0


def engine_address() -> str:
    """Where the client looks for the engine, for messages: DOCKER_HOST or the default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_client(timeout: float = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """A client for the engine the environment names, checked with a ping.

    Raises DockerUnavailableError when nothing answers there.
    """
    address = engine_address()
    try:
        if address.startswith("unix://"):
            _probe_unix_socket(address.removeprefix("unix://"), timeout)
        client = docker.from_env(timeout=int(timeout))
    except (OSError, docker.errors.DockerException, requests.RequestException) as error:
        raise _unavailable(address, error) from error
    try:
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as error:
        client.close()
        raise _unavailable(address, error) from error
    return client


def bridge_gateway(client: docker.DockerClient) -> str:
    """The IP of the default bridge's gateway: where a receiver must listen for containers.

    Containers on the default bridge reach the host at this address. Older engines leave the
    gateway out of the network's IPAM config; then it is the first host of the subnet, which is
    what dockerd assigns to the bridge interface unless `--bip` says otherwise (and then the
    gateway is listed).
    """
    network = client.networks.get("bridge")
    configs = (network.attrs.get("IPAM") or {}).get("Config") or []
    for config in configs:
        if config.get("Gateway"):
            return str(config["Gateway"])
    for config in configs:
        subnet = config.get("Subnet")
        if subnet and ":" not in subnet:
            return str(next(ipaddress.ip_network(subnet, strict=False).hosts()))
    raise DockerUnavailableError(
        f"the engine at {engine_address()} has no IPv4 default bridge: start dockerd without "
        "--bridge=none so containers can reach the receiver"
    )


def _probe_unix_socket(path: str, timeout: float) -> None:
    """Connect once to the engine's socket, closing it: docker-py leaks the socket of a failed
    first connection (a ResourceWarning, an error under `filterwarnings = error`)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        probe.connect(path)


def _unavailable(address: str, error: BaseException) -> DockerUnavailableError:
    return DockerUnavailableError(
        f"no Docker engine answers at {address} ({_reason(error)}): start one "
        "('./mailstorm test' starts dockerd on Debian when run as root; elsewhere start "
        "Docker, e.g. 'systemctl start docker'), or set DOCKER_HOST to a running engine"
    )


def _reason(error: BaseException) -> str:
    """The innermost cause of a connection error, in one line (requests nests them deeply)."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
