"""A network of MX hosts: a dual-stack Docker bridge of this run, with an address per MX host.

MX records carry no port: a sender connects to port 25 of each MX host's address. So each MX
host a scenario names needs its own IP address, where a receiver listens on port 25 and where
it can fail differently from its neighbours (the primary refuses, the secondary answers 451).
`MxNetwork` creates a bridge network with an IPv4 and an IPv6 subnet of its own, then adds one
address per MX host to the host's side of the bridge (`ip address add`), so the receivers run
in this process as before and the MTA containers on the network reach them directly; nothing
leaves this machine. Docker allocates container addresses from the upper half of each subnet
only (`ip_range`), so the MX hosts' lower-half addresses never collide with a container's.
With no MX hosts it is a plain bridge of this run whose lower half is free: the herd's container
workers take their client addresses there (`harness.herd.run.container_workers`).

The network carries the run's labels, so `mailstorm clean` and the stale-run cleanup remove it
like a container; removing it removes the bridge and every address added to it.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

import docker
import docker.errors
from docker.models.networks import Network
from docker.types import IPAMConfig, IPAMPool

from harness.containers.engine import docker_client
from harness.containers.labels import run_labels
from harness.errors import DockerUnavailableError, MailstormError
from harness.lifecycle import Lifecycle

#: IPv4 subnets tried in turn: 172.30.N.0/24; IPv6: 2001:db8:6d73:N::/112 ("ms"; small enough
#: for the engine to allocate a range of it: a /64 range fails in Docker 20.10). The IPv6 range
#: is the documentation prefix (RFC 3849, never routed), not a unique local one (fc00::/7):
#: Haraka counts a ULA as its own host's and skips such an MX (haraka-net-utils
#: `is_local_ipv6`, outbound `local_mx_ok=false`), so a ULA MX does not look like a real one.
IPV4_SUBNETS = tuple(f"172.30.{n}.0/24" for n in range(256))
IPV6_PREFIX = "2001:db8:6d73"
#: The first MX host's offset in its subnet (.10, ::a); at most this many hosts per network.
FIRST_HOST, MAX_HOSTS = 10, 100


class MxNetworkError(MailstormError):
    """The MX network cannot be set up: no free subnet, no right to add addresses."""


@dataclass(frozen=True)
class MxHost:
    """One MX host's addresses on the network (the host's side of the bridge)."""

    name: str
    ipv4: str
    ipv6: str | None  #: None on an IPv4-only network


class MxNetwork(Lifecycle):
    """A labelled dual-stack bridge with an address for each of `hosts` (a context manager)."""

    def __init__(self, hosts: Sequence[str], *, ipv6: bool = True) -> None:
        if len(set(hosts)) != len(hosts):
            raise MxNetworkError(f"MX host names repeat: {', '.join(hosts)}")
        if len(hosts) > MAX_HOSTS:
            raise MxNetworkError(f"{len(hosts)} MX hosts: at most {MAX_HOSTS} per network")
        self.host_names = tuple(hosts)
        self.ipv6 = ipv6
        self.name = ""
        self.bridge = ""
        self.subnet4 = ""
        self.gateway4 = ""
        self.gateway6: str | None = None
        self.hosts: dict[str, MxHost] = {}
        self._client: docker.DockerClient | None = None
        self._network: Network | None = None

    def stop(self) -> None:
        """Remove the network (its bridge and every address on it); idempotent."""
        if self._network is not None:
            try:
                self._network.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                raise MxNetworkError(
                    f"network {self.name} could not be removed ({error.explanation}): a container "
                    "is still attached; `./mailstorm clean` removes both"
                ) from None
            finally:
                self._network = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def start(self) -> None:
        """Create the network and add the MX hosts' addresses to its bridge."""
        if shutil.which("ip") is None:
            raise MxNetworkError("the `ip` command (iproute2) is needed to give MX hosts addresses")
        self._client = docker_client()
        for index, subnet4 in enumerate(IPV4_SUBNETS):
            subnet6 = f"{IPV6_PREFIX}:{index:x}::/112" if self.ipv6 else None
            network = self._try_create(f"mailstorm-mx-{index}", subnet4, subnet6)
            if network is not None:
                self._network = network
                self._allocate(subnet4, subnet6)
                return
        raise MxNetworkError("no free subnet among 172.30.0.0/16 for an MX network")

    def _try_create(self, name: str, subnet4: str, subnet6: str | None) -> Network | None:
        assert self._client is not None
        # The gateway stated: left out, the engine takes it from the ip range, not .1.
        pools = [IPAMPool(subnet=subnet4, iprange=_upper_half(subnet4), gateway=_first(subnet4))]
        if subnet6 is not None:
            pools.append(
                IPAMPool(subnet=subnet6, iprange=_upper_half(subnet6), gateway=_first(subnet6))
            )
        try:
            network = self._client.networks.create(
                name,
                driver="bridge",
                ipam=IPAMConfig(pool_configs=pools),
                enable_ipv6=subnet6 is not None,
                labels=run_labels() | {"mailstorm.network": "mx"},
            )
        except docker.errors.APIError as error:
            text = str(error.explanation or error)
            if "overlaps" in text or "already exists" in text or "Pool" in text:
                return None  # taken by another network (or another run): the next subnet
            raise DockerUnavailableError(f"cannot create network {name}: {text}") from None
        self.name = name
        return network

    def _allocate(self, subnet4: str, subnet6: str | None) -> None:
        assert self._network is not None
        network_id = str(self._network.id)
        self.bridge = f"br-{network_id[:12]}"
        net4 = ipaddress.ip_network(subnet4)
        self.subnet4 = subnet4
        self.gateway4 = _first(subnet4)
        net6 = ipaddress.ip_network(subnet6) if subnet6 else None
        self.gateway6 = _first(subnet6) if subnet6 else None
        if self.gateway6 is not None and net6 is not None:
            # The engine adds the IPv6 gateway with duplicate address detection, which keeps it
            # "tentative" (nothing can bind it) while the bridge has no port up: re-added
            # without, so the harness DNS can answer there before the first container starts.
            self._ip("address", "del", f"{self.gateway6}/{net6.prefixlen}", "dev", self.bridge)
            self._add_address(self.gateway6, net6.prefixlen)
        for offset, name in enumerate(self.host_names, start=FIRST_HOST):
            ipv4 = str(net4.network_address + offset)
            ipv6 = str(net6.network_address + offset) if net6 else None
            self._add_address(ipv4, net4.prefixlen)
            if ipv6 is not None and net6 is not None:
                self._add_address(ipv6, net6.prefixlen)
            self.hosts[name] = MxHost(name, ipv4, ipv6)

    def _add_address(self, address: str, prefix: int) -> None:
        # nodad: an IPv6 address is usable at once, not "tentative" (see _allocate).
        extra = ["nodad"] if ":" in address else []
        self._ip("address", "add", f"{address}/{prefix}", "dev", self.bridge, *extra)

    def _ip(self, *arguments: str) -> None:
        done = subprocess.run(["ip", *arguments], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise MxNetworkError(
                f"`ip {' '.join(arguments)}` failed ({done.stderr.strip()}): MX hosts need "
                "addresses on the bridge, which takes root (CAP_NET_ADMIN)"
            )


def _first(subnet: str) -> str:
    """The first host address of `subnet` (.1, ::1): the bridge's own, the gateway."""
    return str(ipaddress.ip_network(subnet).network_address + 1)


def _upper_half(subnet: str) -> str:
    """The upper half of `subnet`, where Docker may place containers."""
    network = ipaddress.ip_network(subnet)
    upper = list(network.subnets(prefixlen_diff=1))[1]
    return str(upper)
