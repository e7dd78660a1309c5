"""The MX site of one group: its network, its DNS, and what crossed the wire to its MX hosts.

A group whose scenarios name MX hosts gets its own MX network (an address per host of each
scenario: two scenarios never share a host, so no sender's per-host state couples them), one
harness DNS on the network's gateways serving each scenario's zone on its own case clock, and a
connection log on the bridge. The target joins the network and looks those domains up there.
Each scenario's receiver listens on port 25 of its hosts' addresses, one listener per host and
family (`mx1.ipv4`), refusing per host where the scenario says so.

A sender that keeps per-destination state by address rather than address and port
(`SenderTarget.state_per_address`: OpenSMTPD) also gets an address of its own for each static
scenario (`own`): on the shared gateway, one scenario's refused connections would mark the
address down for all of them, and the neighbours' cells would show the harness, not the MTA.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from harness.containers.mx_network import MxNetwork
from harness.dns import DnsServer
from harness.ledger import Ledger
from harness.receiver import BoundListener, ListenSpec
from harness.receiver.connection_log import ConnectionLog
from harness.results import Attempt, Connection, Lookup
from harness.scenarios import HostAddresses, MxHostSpec, Scenario, scenario_zone
from harness.targets import Resolver

#: The SMTP port: MX records carry none.
SMTP_PORT = 25
#: The DNS port: resolv.conf names none.
DNS_PORT = 53
#: The name of a static scenario's own host on the network (`<scenario>/own`).
OWN_HOST = "own"


@dataclass(frozen=True)
class MxSite:
    """A group's MX network, DNS and connection log, and each scenario's host addresses."""

    network: MxNetwork
    dns: DnsServer | None  #: None when no scenario of the group looks up its domain
    connections: ConnectionLog
    #: scenario id -> host (as the scenario names it) -> its addresses
    addresses: dict[str, dict[str, HostAddresses]]
    #: static scenario id -> the IPv4 address its receiver listens on (`state_per_address`)
    own: dict[str, str] = dataclasses.field(default_factory=dict)

    def resolver(self, scenarios: Sequence[Scenario]) -> Resolver | None:
        """DNS for the target: the network's gateways, the DNS scenarios' domains (None when
        the group has none)."""
        servers = tuple(a for a in (self.network.gateway4, self.network.gateway6) if a)
        domains = tuple(s.domain for s in scenarios if s.uses_dns)
        return Resolver(self.network.name, servers, domains) if self.dns and domains else None

    def own_listener(self, scenario: Scenario) -> str | None:
        """Where a static scenario's receiver listens when it has an address of its own: port
        25, as a real MX host does (and one port for all: Sendmail has a mailer per port and
        at most 25 mailers)."""
        address = self.own.get(scenario.id)
        return f"{address}:{SMTP_PORT}" if address else None

    def _addresses(self, scenario: Scenario) -> list[tuple[MxHostSpec, str, str]]:
        """(host, family, address) for each address the scenario's hosts publish."""
        return [
            (host, family, address)
            for host in scenario.mx
            for family in host.families
            if (address := self.addresses[scenario.id][host.host].of(family)) is not None
        ]

    def listeners(self, scenario: Scenario) -> list[ListenSpec]:
        """Port 25 of each of the scenario's hosts, per family it publishes; a scenario without
        hosts (a null MX, a name that does not exist) gets one unused listener on the gateway,
        so that its receiver still journals what (nothing) reached it."""
        specs = [
            ListenSpec(address, SMTP_PORT, host.listener(family))
            for host, family, address in self._addresses(scenario)
        ]
        return specs or [ListenSpec(self.network.gateway4, 0, "no-mx-host")]

    def refusals(self, scenario: Scenario) -> dict[str, float]:
        """Each refusing host's listeners, and until when they refuse."""
        return {
            host.listener(family): host.refuse_until
            for host, family, _ in self._addresses(scenario)
            if host.refuse_until is not None
        }

    def named(self, scenario: Scenario, attempts: Sequence[Attempt]) -> tuple[Attempt, ...]:
        """The sessions with their listener named by MX host and family (`mx2.ipv4`) instead
        of the address the receiver journals (`172.30.0.11:25`)."""
        names = {
            BoundListener(host.listener(family), address, SMTP_PORT).address: host.listener(family)
            for host, family, address in self._addresses(scenario)
        }
        return tuple(
            dataclasses.replace(a, listener=names.get(a.listener) or a.listener) for a in attempts
        )

    def evidence(
        self, scenario: Scenario, ledger: Ledger
    ) -> tuple[tuple[Connection, ...], tuple[Lookup, ...]]:
        """The scenario's connections and lookups so far, in real seconds since injection."""
        by_address = {
            address: (host, family) for host, family, address in self._addresses(scenario)
        }
        connections = tuple(
            Connection(
                ledger.real(c.mono),
                by_address[c.address][0].label,
                by_address[c.address][1],
                c.address,
                outcome={"accepted": "session"}.get(c.answer, c.answer),
                preference=by_address[c.address][0].preference,
            )
            for c in self.connections.attempts()
            if c.address in by_address
        )
        origin = scenario.domain + "."
        lookups = tuple(
            Lookup(
                ledger.real(q.mono),
                q.name,
                q.rtype,
                q.rcode,
                q.answers,
                q.transport,
                q.fault,
            )
            for q in (self.dns.queries() if self.dns else [])
            if q.zone == origin
        )
        return connections, lookups


def start_mx_site(
    stack: ExitStack,
    scenarios: Sequence[Scenario],
    time_scale: float,
    journal_prefix: Path,
    *,
    own_addresses: bool = False,
) -> MxSite | None:
    """The site for the group's DNS scenarios, and with `own_addresses` an address for each
    static one (None when there is nothing to put on it), torn down by `stack`."""
    dns_scenarios = [s for s in scenarios if s.uses_dns]
    static = [s for s in scenarios if not s.uses_dns] if own_addresses else []
    if not dns_scenarios and not static:
        return None
    names = {(s.id, h.host): f"{s.id}/{h.label}" for s in dns_scenarios for h in s.mx}
    own_names = {s.id: f"{s.id}/{OWN_HOST}" for s in static}
    network = stack.enter_context(MxNetwork([*names.values(), *own_names.values()]))
    addresses = {
        s.id: {
            h.host: HostAddresses(
                network.hosts[names[s.id, h.host]].ipv4, network.hosts[names[s.id, h.host]].ipv6
            )
            for h in s.mx
        }
        for s in dns_scenarios
    }
    own = {scenario: network.hosts[name].ipv4 for scenario, name in own_names.items()}
    zones = [
        scenario_zone(s.domain, s.mx, s.zone, addresses[s.id], source=s.source)
        for s in dns_scenarios
    ]
    gateways = [a for a in (network.gateway4, network.gateway6) if a]
    dns = (
        stack.enter_context(
            DnsServer(
                zones,
                host=gateways,
                port=DNS_PORT,
                time_scale=time_scale,
                journal=f"{journal_prefix}-dns.jsonl",
            )
        )
        if zones
        else None
    )
    connections = stack.enter_context(ConnectionLog(network.bridge, SMTP_PORT))
    return MxSite(network, dns, connections, addresses, own)
