"""The client addresses a herd comes from: one per Locust user (one sending host each).

Pure Python (no gevent): `harness.herd.run.locust_run` checks the option before Locust starts,
and the Locust side (`load/herd_runtime.py`) hands the addresses out.

A receiver throttles per client IP, and a real herd comes from thousands of hosts; a load test
from one address meets the per-IP limit at once and measures nothing else. Locust users bind
their connections to addresses of a pool: loopback addresses (all of 127.0.0.0/8 is this
machine's) against a local receiver, or a container's own addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from itertools import count, islice
from threading import Lock

from harness.errors import MailstormError

#: More addresses than this is a typo, not a herd this machine can drive.
MAX_ADDRESSES = 65_536
#: A worker's own addresses (a container's, space-separated): it sends from these, all of them,
#: instead of its stride of the master's pool.
OWN_ADDRESSES_VARIABLE = "MAILSTORM_HERD_SOURCE_ADDRESSES"


def parse_source_addresses(text: str, *, allow_remote: bool = False) -> tuple[str, ...]:
    """`127.0.0.2-127.0.0.51`, `127.0.1.0/26`, `127.0.0.2,127.0.0.3` (or a mix, comma-separated)
    as the list of addresses; empty text, none. Non-loopback addresses need `allow_remote`
    (a container's own addresses). A one-line MailstormError for anything else."""
    addresses: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        addresses += _part(part)
        if len(addresses) > MAX_ADDRESSES:
            raise MailstormError(f"source addresses {text!r}: more than {MAX_ADDRESSES}")
    for address in addresses:
        if not allow_remote and not ipaddress.ip_address(address).is_loopback:
            raise MailstormError(
                f"source address {address} is not a loopback address (127.0.0.0/8, ::1): "
                "allow remote targets to use a container's own addresses"
            )
    return tuple(dict.fromkeys(addresses))


def _part(part: str) -> list[str]:
    try:
        if "/" in part:
            network = ipaddress.ip_network(part, strict=False)
            hosts = network.hosts() if network.num_addresses > 2 else iter(network)
            return [str(a) for a in islice(hosts, MAX_ADDRESSES + 1)]
        if "-" in part:
            low_text, high_text = (p.strip() for p in part.split("-", 1))
            low, high = ipaddress.ip_address(low_text), ipaddress.ip_address(high_text)
            if low.version != high.version or int(high) < int(low):
                raise ValueError("a range runs from a lower to a higher address of one family")
            if int(high) - int(low) >= MAX_ADDRESSES:
                raise ValueError(f"more than {MAX_ADDRESSES} addresses")
            first, last = int(low), int(high)
            return [str(ipaddress.ip_address(n)) for n in range(first, last + 1)]
        return [str(ipaddress.ip_address(part))]
    except ValueError as error:
        raise MailstormError(f"source addresses {part!r}: {error}") from None


class SourcePool:
    """Hands out the pool's addresses in turn, one per user; None when the pool is empty.

    Distributed, worker `index` of `count` takes addresses index, index + count, ...: the
    workers' users come from different hosts, as one process's would. A pool that is the
    worker's `own` (its container's addresses) is not shared: the worker takes all of it."""

    def __init__(self, addresses: tuple[str, ...], *, own: bool = False) -> None:
        self.addresses = addresses
        self.own = own
        self._next = count()
        self._lock = Lock()

    @classmethod
    def for_process(cls, shared: tuple[str, ...], environment: Mapping[str, str]) -> SourcePool:
        """The process's own addresses when its environment names some, else the shared pool."""
        own = environment.get(OWN_ADDRESSES_VARIABLE, "").split()
        if own:
            return cls(parse_source_addresses(",".join(own), allow_remote=True), own=True)
        return cls(shared)

    def take(self, index: int = 0, count: int = 1) -> str | None:
        if not self.addresses:
            return None
        if self.own:
            index, count = 0, 1
        with self._lock:
            return self.addresses[(index + next(self._next) * count) % len(self.addresses)]
