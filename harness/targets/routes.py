"""Where a sender MTA sends each test domain: an ordered list of receiver addresses, or DNS.

By default a target resolves nothing: each route names the receiver listeners to try, in
fallback order, so a scenario controls exactly which "MX" answers. The bounce domain has a
route too, or the DSNs the MTA sends back would be lost instead of reaching the receiver.

A target given a `Resolver` also looks up the resolver's domains by DNS, through the harness
DNS on its MX network (docs/dns.md): then the zone decides which MX hosts there are, and the
MTA's own MX logic (preference order, fallback, what it does on SERVFAIL) is what is measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.errors import MailstormError


class RouteError(MailstormError):
    """A route table cannot be used as given (no hops, a bad domain, a missing bounce route)."""


@dataclass(frozen=True)
class Hop:
    """One receiver address a domain is sent to."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}"


@dataclass(frozen=True)
class RouteTable:
    """Test domain -> ordered hops (the first is tried first, the next on failure)."""

    routes: tuple[tuple[str, tuple[Hop, ...]], ...]

    @classmethod
    def of(cls, routes: Mapping[str, Sequence[Hop | tuple[str, int]]]) -> RouteTable:
        table: list[tuple[str, tuple[Hop, ...]]] = []
        for domain, hops in routes.items():
            if not domain or any(c in domain for c in " \t\n:[]"):
                raise RouteError(f"route domain {domain!r} is not a domain name")
            if not hops:
                raise RouteError(f"route for {domain!r} names no receiver address")
            table.append(
                (domain.lower(), tuple(h if isinstance(h, Hop) else Hop(*h) for h in hops))
            )
        return cls(tuple(table))

    @classmethod
    def to_one(cls, domains: Iterable[str], host: str, port: int) -> RouteTable:
        """Every domain to the same single receiver address."""
        return cls.of({domain: [Hop(host, port)] for domain in domains})

    def domains(self) -> list[str]:
        return [domain for domain, _ in self.routes]

    def hops(self, domain: str) -> tuple[Hop, ...]:
        for name, hops in self.routes:
            if name == domain.lower():
                return hops
        raise RouteError(f"no route for {domain!r} (routed: {', '.join(self.domains())})")

    def require(self, domain: str, why: str) -> None:
        if domain.lower() not in self.domains():
            raise RouteError(f"the route table has no route for {domain!r}: {why}")


@dataclass(frozen=True)
class Resolver:
    """DNS for a target: the network it joins, the name servers there, the domains it looks up.

    The name servers answer on port 53 (resolv.conf names no port): the harness DNS on the MX
    network's gateways. Only `domains` are routed by DNS; every other domain keeps its static
    route (the bounce domain always does).
    """

    network: str
    nameservers: tuple[str, ...]
    domains: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.nameservers:
            raise RouteError("a resolver needs at least one name server")
        if not self.domains:
            raise RouteError("a resolver needs at least one domain to look up")

    def resolv_conf(self) -> tuple[str, ...]:
        """The lines of the container's /etc/resolv.conf: these name servers only, no search
        list."""
        return tuple(f"nameserver {server}" for server in self.nameservers)
