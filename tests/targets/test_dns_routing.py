"""A sender MTA that looks up the MX: through the harness DNS on an MX network, each MX host on
its own addresses, port 25. The primary has nothing listening (refused, on IPv4 and IPv6); the
secondary accepts. The MTA must ask for the MX, try the primary, and deliver to the secondary;
the DNS journal shows the lookups and the MTA's log the refused primary."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.containers.mx_network import MxNetwork
from harness.dns import DnsServer, parse_zone
from harness.receiver import ACCEPT_ALL, Receiver
from harness.targets import BOUNCE_DOMAIN, Hop, Resolver, RouteTable, target_class, target_names
from harness.waiting import wait_until

pytestmark = pytest.mark.docker

DOMAIN = "libero.test"
TIME_SCALE = 60.0


@pytest.mark.parametrize("name", target_names())
def test_the_mta_looks_up_the_mx_and_falls_back_to_the_secondary(name: str, tmp_path: Path) -> None:
    with MxNetwork(["mx1", "mx2"]) as network:
        mx1, mx2 = network.hosts["mx1"], network.hosts["mx2"]
        records = f"""
        @    MX    10 mx1
        @    MX    20 mx2
        mx1  A     {mx1.ipv4}
        mx1  AAAA  {mx1.ipv6}
        mx2  A     {mx2.ipv4}
        mx2  AAAA  {mx2.ipv6}
        """
        zone = parse_zone({"origin": DOMAIN, "records": records}, source="test")
        gateways = [network.gateway4, *([network.gateway6] if network.gateway6 else [])]
        with (
            DnsServer(zone, host=gateways, port=53, time_scale=TIME_SCALE) as dns,
            Receiver(
                ACCEPT_ALL,
                listen=[f"{mx2.ipv4}:25", f"[{mx2.ipv6}]:25"],
                journal=tmp_path / "mx2.sqlite",
                time_scale=TIME_SCALE,
            ) as secondary,
            Receiver(
                ACCEPT_ALL,
                listen=[f"{network.gateway4}:0"],
                journal=tmp_path / "bounces.sqlite",
                time_scale=TIME_SCALE,
            ) as bounces,
        ):
            routes = RouteTable.of({BOUNCE_DOMAIN: [Hop(bounces.host, bounces.port)]})
            resolver = Resolver(network.name, tuple(gateways), (DOMAIN,))
            with target_class(name)(routes, time_scale=TIME_SCALE, resolver=resolver) as mta:
                sent = mta.submit([f"user@{DOMAIN}"], subject="via the MX")

                def stored() -> list[object]:
                    with secondary.journal() as journal:
                        return list(journal.messages(message_id=sent.message_id))

                wait_until(
                    stored,
                    timeout=60,
                    what=f"{name} to deliver to the secondary MX",
                    seen=lambda: "\n".join(
                        [str(q) for q in dns.queries()]
                        + mta.exec(f"tail -20 {mta.log_path}", check=False).splitlines()
                    ),
                )
                log = mta.exec(f"cat {mta.log_path}")
            asked = [(q.name, q.rtype) for q in dns.queries()]
    assert (f"{DOMAIN}.", "MX") in asked, asked
    assert any(n == f"mx1.{DOMAIN}." for n, _ in asked), asked
    assert mx1.ipv4 in log or (mx1.ipv6 or "") in log, log  # the primary was tried: refused
