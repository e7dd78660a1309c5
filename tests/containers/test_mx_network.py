"""MX hosts get addresses of their own on a network of the run, reachable from a container over
IPv4 and IPv6 on port 25, and nothing of it stays after the network is closed."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Iterator

import docker
import pytest

from harness.containers import run_in_container
from harness.containers.labels import run_labels
from harness.containers.mx_network import MxNetwork

pytestmark = pytest.mark.docker


@contextlib.contextmanager
def greeter(address: str, text: str) -> Iterator[None]:
    """A TCP listener on `address` port 25 that greets each connection with `text`."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as server:
        # The previous test's connections may linger in TIME_WAIT on the same address.
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, 25))
        server.listen(8)
        server.settimeout(0.2)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    continue
                with connection:
                    connection.sendall(f"220 {text}\r\n".encode())

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(2)


def test_each_mx_host_answers_on_its_own_addresses(
    engine: docker.DockerClient, base_image: str
) -> None:
    with MxNetwork(["mx1", "mx2"]) as network:
        name, bridge = network.name, network.bridge
        addresses = [
            (host.name, address)
            for host in network.hosts.values()
            for address in (host.ipv4, host.ipv6)
            if address is not None
        ]
        assert len(addresses) == 4
        assert len({a for _, a in addresses}) == 4
        on_bridge = subprocess.run(
            ["ip", "-br", "address", "show", bridge], capture_output=True, text=True, check=True
        ).stdout
        # The gateways are the bridge's own addresses: the harness DNS answers there.
        assert f"{network.gateway4}/24" in on_bridge
        assert f"{network.gateway6}/112" in on_bridge
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind((str(network.gateway6), 0))  # usable now, not "tentative"
        with contextlib.ExitStack() as stack:
            for host, address in addresses:
                stack.enter_context(greeter(address, f"{host} at {address}"))
            container = engine.containers.run(
                base_image,
                ["sleep", "infinity"],
                detach=True,
                labels=run_labels(),
                init=True,
                network=name,
            )
            stack.callback(container.remove, force=True)
            for host, address in addresses:
                result = run_in_container(
                    container, ["bash", "-c", f"exec 3<>/dev/tcp/{address}/25 && head -n 1 <&3"]
                )
                assert result.exit_code == 0, result.text
                assert result.text.strip() == f"220 {host} at {address}"
    assert engine.networks.list(names=[name]) == []
    shown = subprocess.run(["ip", "-br", "address"], capture_output=True, text=True, check=True)
    assert bridge not in shown.stdout
    assert all(address not in shown.stdout for _, address in addresses)
