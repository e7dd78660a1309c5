"""Locust workers in containers: sending hosts with addresses of their own, one master here.

`herd run --container-workers N` shows Locust's distributed engine across hosts on one machine:
the master runs here, bound to the gateway of a Docker bridge of this run (the host's own
address on it), and each worker is a container of the worker image (`worker_image`) on that
bridge. Each worker container gets M addresses of the bridge's lower half (Docker places
containers in the upper half only, `MxNetwork`), adds them to its interface and sends from them,
one per Locust user, so a receiver's per-IP limit sees N x M hosts. The embedded receiver
listens on the gateway too. Nothing leaves this machine: the bridge is local.

The run directory is mounted at the same path in every worker, so the workers write their
records where the master's summary reads them; each container's output is kept beside them
(`locust-worker-container-<i>.log`) and the containers are removed at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path

import docker
import docker.errors
import requests
from docker.models.containers import Container

from harness.containers.engine import docker_client
from harness.containers.labels import run_labels
from harness.containers.mx_network import MxNetwork
from harness.errors import HerdError
from harness.herd.run.source_addresses import OWN_ADDRESSES_VARIABLE
from harness.lifecycle import Lifecycle

#: the lower half of the bridge's /24 starts after the gateway (.1): .2 up to .127
_FIRST_OFFSET = 2
LOG_TAIL_LINES = 20


def worker_addresses(subnet: str, workers: int, per_worker: int) -> list[list[str]]:
    """Each worker's block of addresses from the lower half of `subnet` (after the gateway)."""
    network = ipaddress.ip_network(subnet)
    available = network.num_addresses // 2 - _FIRST_OFFSET  # the lower half, after the gateway
    if workers * per_worker > available:
        raise HerdError(
            f"{workers} container workers x {per_worker} addresses need "
            f"{workers * per_worker} addresses; the bridge's {subnet} has {available} for them"
        )
    first = int(network.network_address) + _FIRST_OFFSET
    return [
        [str(ipaddress.ip_address(first + worker * per_worker + n)) for n in range(per_worker)]
        for worker in range(workers)
    ]


class ContainerWorkers(Lifecycle):
    """`workers` Locust workers in containers of `image` on `network`, connecting to `master`."""

    def __init__(
        self,
        image: str,
        network: MxNetwork,
        master: tuple[str, int],
        *,
        workers: int,
        addresses_per_worker: int,
        run_dir: Path,
    ) -> None:
        self.image = image
        self.network = network
        self.master = master
        self.run_dir = run_dir
        self.addresses = worker_addresses(network.subnet4, workers, addresses_per_worker)
        self._client: docker.DockerClient | None = None
        self._containers: list[Container] = []

    @property
    def prefix(self) -> int:
        return ipaddress.ip_network(self.network.subnet4).prefixlen

    def log(self, index: int) -> Path:
        return self.run_dir / f"locust-worker-container-{index}.log"

    def start(self) -> None:
        self._client = docker_client()
        host, port = self.master
        for index, addresses in enumerate(self.addresses):
            try:
                container = self._client.containers.run(
                    self.image,
                    detach=True,
                    network=self.network.name,
                    cap_add=["NET_ADMIN"],  # to add its client addresses to its interface
                    environment={
                        OWN_ADDRESSES_VARIABLE: " ".join(addresses),
                        "MAILSTORM_HERD_PREFIX": str(self.prefix),
                        "MAILSTORM_HERD_MASTER": f"{host}:{port}",
                    },
                    volumes={str(self.run_dir): {"bind": str(self.run_dir), "mode": "rw"}},
                    labels=run_labels() | {"mailstorm.role": "herd-worker"},
                    hostname=f"herd-worker-{index}",
                )
            except docker.errors.DockerException as error:
                raise HerdError(f"cannot start herd worker container {index}: {error}") from None
            self._containers.append(container)

    def wait(self, timeout: float) -> None:
        """Wait for every worker to exit; a HerdError naming the first that failed or overran."""
        for index, container in enumerate(self._containers):
            try:
                status = int(container.wait(timeout=timeout).get("StatusCode", -1))
            except (requests.RequestException, docker.errors.DockerException):
                raise HerdError(
                    f"herd worker container {index} did not stop within {timeout:.0f} s; "
                    f"log: {self.log(index)}"
                ) from None
            if status != 0:
                self._save_log(index, container)
                raise HerdError(
                    f"herd worker container {index} exited with status {status}: "
                    f"{self._tail(index)} (log: {self.log(index)})"
                )

    def stop(self) -> None:
        """Keep each container's output, then remove the containers; idempotent."""
        for index, container in enumerate(self._containers):
            self._save_log(index, container)
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                container.remove(force=True)
        self._containers = []
        if self._client is not None:
            self._client.close()
            self._client = None

    def _save_log(self, index: int, container: Container) -> None:
        with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
            self.log(index).write_bytes(container.logs(stdout=True, stderr=True))

    def _tail(self, index: int) -> str:
        try:
            lines = self.log(index).read_text(errors="replace").splitlines()
        except OSError:
            return "no output"
        return " | ".join(line for line in lines[-LOG_TAIL_LINES:] if line.strip())[-800:]
