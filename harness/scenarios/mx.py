"""A scenario's MX hosts and test zone: which hosts its domain names, and how each fails.

MX records carry no port, so a DNS scenario names MX hosts, not listeners: each host gets its
own IPv4 and IPv6 address on the run's MX network (harness/containers/mx_network.py), with a
receiver listening on port 25 there. The listeners are named `<host>.ipv4` and `<host>.ipv6`,
so that the scenario's rules can make one host or one address family fail (`listener =
"mx1.*"`, `listener = "mx1.ipv6"`), and a host can refuse connections for ever or until its
outage ends.

In TOML:

    [[mx]]
    host = "mx1"          # a name under the scenario's domain; "@" is the domain itself
    preference = 10       # left out: no MX record names it (the implicit MX: RFC 5321 5.1)
    families = ["ipv4", "ipv6"]  # the address records published for it (A, AAAA)
    refuse_until = "72h"  # optional: connections refused until then ("forever")

    [zone]                # optional: extra records, phases, DNS faults (harness/dns/zone.py)
    records = "@ MX 0 ."

The zone's origin is the scenario's domain; the MX and address records of the hosts are
written for it once the addresses are known (`scenario_zone`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.dns.zone import Zone, parse_zone
from harness.durations import parse_duration
from harness.errors import PlanError, ZoneError

#: The address families an MX host can have, and the record type of each.
FAMILIES = {"ipv4": "A", "ipv6": "AAAA"}
#: Documentation addresses (RFC 5737, RFC 3849), used to check a zone before a network exists.
_PLACEHOLDER = {"ipv4": "192.0.2.{n}", "ipv6": "2001:db8::{n:x}"}
_HOST = re.compile(r"^(@|[a-z0-9]([a-z0-9-]*[a-z0-9])?)$")
_KEYS = frozenset({"host", "preference", "families", "refuse_until"})


@dataclass(frozen=True)
class MxHostSpec:
    """One host a scenario's domain names: its MX preference, its families, its refusal."""

    host: str  #: relative to the scenario's domain; `@` is the domain itself
    preference: int | None  #: None: no MX record (the host is the domain's own address)
    families: tuple[str, ...] = ("ipv4", "ipv6")
    refuse_until: float | None = None  #: connections refused until then (math.inf: for ever)

    def listener(self, family: str) -> str:
        """The receiver's listener for this host's address of `family` (`mx1.ipv6`)."""
        return f"{self.label}.{family}"

    @property
    def label(self) -> str:
        """How listeners and reports name the host: `@` is `apex` (the domain itself)."""
        return "apex" if self.host == "@" else self.host


@dataclass(frozen=True)
class HostAddresses:
    """The addresses one MX host got on the network: IPv4 and, on a dual-stack one, IPv6."""

    ipv4: str
    ipv6: str | None

    def of(self, family: str) -> str | None:
        """The address of `family` (`ipv4`, `ipv6`)."""
        return self.ipv4 if family == "ipv4" else self.ipv6


def parse_mx_hosts(value: Any, source: str) -> tuple[MxHostSpec, ...]:
    """The `[[mx]]` tables of a scenario; errors name the file, the entry and the key."""
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise PlanError(f"{source}: key 'mx': expected an array of tables ([[mx]])")
    hosts = []
    for index, table in enumerate(value, start=1):
        where = f"{source}: [[mx]] #{index}"
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            known = ", ".join(sorted(_KEYS))
            raise PlanError(f"{where}: unknown key {', '.join(unknown)} (known: {known})")
        host = table.get("host")
        if not isinstance(host, str) or not _HOST.match(host):
            raise PlanError(
                f"{where}: host must be a lower-case label under the domain, or @, got {host!r}"
            )
        preference = table.get("preference")
        if preference is not None and (
            not isinstance(preference, int) or isinstance(preference, bool) or preference < 0
        ):
            raise PlanError(f"{where}: preference must be a whole number >= 0, got {preference!r}")
        families = table.get("families", list(FAMILIES))
        if (
            not isinstance(families, list)
            or not families
            or not all(f in FAMILIES for f in families)
        ):
            raise PlanError(f"{where}: families must be a non-empty list of ipv4, ipv6")
        refuse = table.get("refuse_until")
        try:
            until = (
                math.inf
                if refuse == "forever"
                else (None if refuse is None else parse_duration(refuse))
            )
        except (TypeError, ValueError) as error:
            raise PlanError(f"{where}: refuse_until: {error}") from None
        hosts.append(MxHostSpec(host, preference, tuple(dict.fromkeys(families)), until))
    names = [h.host for h in hosts]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PlanError(f"{source}: [[mx]] hosts repeat: {', '.join(repeated)}")
    return tuple(hosts)


def scenario_zone(
    domain: str,
    hosts: Sequence[MxHostSpec],
    table: Mapping[str, Any] | None,
    addresses: Mapping[str, HostAddresses],
    *,
    source: str,
) -> Zone:
    """The scenario's zone: its hosts' MX and address records at `addresses` (host -> its
    addresses on the network), then the `[zone]` table's own records, phases and faults."""
    lines = []
    for host in hosts:
        if host.preference is not None:
            target = domain + "." if host.host == "@" else host.host
            lines.append(f"@ MX {host.preference} {target}")
        for family in host.families:
            address = addresses[host.host].of(family)
            if address is not None:
                lines.append(f"{host.host} {FAMILIES[family]} {address}")
    data = dict(table or {})
    if "origin" in data:
        raise ZoneError(f"{source}: [zone] origin: a scenario's zone is its domain ({domain})")
    extra = data.get("records", "")
    if not isinstance(extra, str):
        raise ZoneError(f"{source}: [zone] records must be master-file lines in a string")
    data["records"] = "\n".join([extra, *lines])  # the user's lines first: errors number them
    return parse_zone(data, source=source, default_origin=domain)


def placeholder_addresses(hosts: Sequence[MxHostSpec]) -> dict[str, HostAddresses]:
    """Documentation addresses for each host: to check a scenario's zone when it is loaded,
    before any network exists."""
    return {
        host.host: HostAddresses(_PLACEHOLDER["ipv4"].format(n=n), _PLACEHOLDER["ipv6"].format(n=n))
        for n, host in enumerate(hosts, start=10)
    }
