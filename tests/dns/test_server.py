"""The harness DNS on real sockets: dnslib as the client, over UDP and TCP, on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from harness.dns import DnsServer, Zone, parse_zone
from harness.errors import DnsServerError

ZONE = """
@        MX    10 mx1
@        MX    20 mx2
mx1      A     172.30.0.11
mx1      AAAA  fd00:6d73::11
mx2      A     172.30.0.12
nomx     A     172.30.0.13
null     MX    0 .
"""


def zone(**extra: object) -> Zone:
    return parse_zone(
        {"origin": "libero.test", "ttl": "5m", "records": ZONE, **extra}, source="test"
    )


def ask(
    server: DnsServer, name: str, rtype: str, *, tcp: bool = False, timeout: float = 2.0
) -> DNSRecord:
    question = DNSRecord.question(name, rtype)
    ipv6 = ":" in server.host
    return DNSRecord.parse(
        question.send(server.host, server.port, tcp=tcp, timeout=timeout, ipv6=ipv6)
    )


def test_mx_set_with_preferences_and_the_mx_hosts_addresses(tmp_path: Path) -> None:
    journal = tmp_path / "dns.jsonl"
    with DnsServer(zone(), journal=journal) as server:
        answer = ask(server, "libero.test", "MX")
        assert RCODE[answer.header.rcode] == "NOERROR"
        assert sorted((rr.rdata.preference, str(rr.rdata.label)) for rr in answer.rr) == [
            (10, "mx1.libero.test."),
            (20, "mx2.libero.test."),
        ]
        assert all(rr.ttl == 300 for rr in answer.rr)
        assert {str(rr.rdata) for rr in answer.ar} == {
            "172.30.0.11",
            "fd00:6d73::11",
            "172.30.0.12",
        }
        aaaa = ask(server, "MX1.libero.test", "AAAA", tcp=True)
        assert [str(rr.rdata) for rr in aaaa.rr] == ["fd00:6d73::11"]
        queries = server.queries()
    assert [(q.name, q.rtype, q.transport, q.rcode) for q in queries] == [
        ("libero.test.", "MX", "udp", "NOERROR"),
        ("mx1.libero.test.", "AAAA", "tcp", "NOERROR"),
    ]
    assert queries[0].answers[0].startswith("libero.test.")
    assert queries[0].client == "127.0.0.1"
    assert journal.read_text().count("\n") == 2


def test_null_mx_implicit_mx_nodata_and_nxdomain() -> None:
    with DnsServer(zone()) as server:
        null = ask(server, "null.libero.test", "MX")
        assert [str(rr.rdata) for rr in null.rr] == ["0 ."]  # RFC 7505
        implicit = ask(server, "nomx.libero.test", "MX")
        assert RCODE[implicit.header.rcode] == "NOERROR"  # the name exists: NODATA
        assert implicit.rr == []
        assert QTYPE[implicit.auth[0].rtype] == "SOA"  # negative caching (RFC 2308)
        assert [str(rr.rdata) for rr in ask(server, "nomx.libero.test", "A").rr] == ["172.30.0.13"]
        missing = ask(server, "nobody.libero.test", "MX")
        assert RCODE[missing.header.rcode] == "NXDOMAIN"
        outside = ask(server, "example.com", "MX")
        assert RCODE[outside.header.rcode] == "NXDOMAIN"  # as a recursive resolver says
        assert outside.auth == []  # no zone of ours: no SOA


def test_faults_servfail_nxdomain_and_an_answer_that_never_comes() -> None:
    faults = [
        {"name": "mx1", "type": "A", "answer": "servfail"},
        {"name": "mx2", "answer": "nxdomain"},
        {"name": "@", "type": "MX", "answer": "timeout"},
    ]
    with DnsServer(zone(fault=faults)) as server:
        assert RCODE[ask(server, "mx1.libero.test", "A").header.rcode] == "SERVFAIL"
        assert RCODE[ask(server, "mx1.libero.test", "AAAA").header.rcode] == "NOERROR"
        assert RCODE[ask(server, "mx2.libero.test", "A").header.rcode] == "NXDOMAIN"
        with pytest.raises(TimeoutError):
            ask(server, "libero.test", "MX", timeout=0.5)
        timed_out = server.queries()[-1]
    assert timed_out.rcode is None
    assert timed_out.fault == "timeout for libero.test. MX from 0ms"


def test_truncation_sends_the_resolver_to_tcp() -> None:
    with DnsServer(zone(fault=[{"name": "@", "type": "MX", "answer": "truncate"}])) as server:
        udp = ask(server, "libero.test", "MX")
        assert udp.header.tc == 1
        assert udp.rr == []
        tcp = ask(server, "libero.test", "MX", tcp=True)
        assert tcp.header.tc == 0
        assert len(tcp.rr) == 2
        assert [q.truncated for q in server.queries()] == [True, False]


def test_the_zone_changes_with_case_time() -> None:
    """The primary is withdrawn from 1 h to 3 h of case time (x3600: seconds of wall time;
    `reset(at=...)` sets the case clock instead of sleeping)."""
    phases = [{"from": "1h", "until": "3h", "withdraw": ["@ MX"], "records": "@ MX 20 mx2"}]
    with DnsServer(zone(phase=phases), time_scale=3600.0) as server:
        before = ask(server, "libero.test", "MX")
        assert len(before.rr) == 2
        server.reset(at=1.5 * 3600)
        during = ask(server, "libero.test", "MX")
        assert [str(rr.rdata) for rr in during.rr] == ["20 mx2.libero.test."]
        server.reset(at=3.5 * 3600)
        assert len(ask(server, "libero.test", "MX").rr) == 2
        assert [round(q.t / 3600) for q in server.queries()] == [0, 2, 4]


def test_zones_of_one_server_keep_their_own_clocks() -> None:
    """Two cases share the server of their MX network: each zone's phases count from its own
    case's start, and a question goes to the deepest zone that holds the name."""
    phases = [{"from": "1h", "withdraw": ["@ MX"], "records": "@ MX 20 mx2"}]
    first = zone(phase=phases)
    second = parse_zone(
        {
            "origin": "other.libero.test",
            "records": "@ MX 10 mx1\nmx1 A 172.30.0.21",
            "phase": phases,
        },
        source="test",
    )
    with DnsServer([first, second], time_scale=3600.0) as server:
        server.reset(at=2 * 3600, origin="libero.test")
        assert [str(rr.rdata) for rr in ask(server, "libero.test", "MX").rr] == [
            "20 mx2.libero.test."
        ]
        assert [str(rr.rdata) for rr in ask(server, "other.libero.test", "MX").rr] == [
            "10 mx1.other.libero.test."
        ]
        asked = server.queries()
        assert [q.zone for q in asked] == ["libero.test.", "other.libero.test."]
        assert asked[0].t >= 2 * 3600 > asked[1].t
        assert ask(server, "example.test", "MX").header.rcode == RCODE.NXDOMAIN
        assert server.queries()[-1].zone is None
        with pytest.raises(DnsServerError, match=r"no zone nowhere\.test\. "):
            server.reset(origin="nowhere.test")


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with DnsServer(zone(), host="::1") as server:
        assert server.address.startswith("[::1]:")
        assert [str(rr.rdata) for rr in ask(server, "mx2.libero.test", "A").rr] == ["172.30.0.12"]


def test_one_port_on_ipv4_and_ipv6_one_journal() -> None:
    """resolv.conf has no port: on an MX network the server answers on port 53 of both
    gateways; here, any port free on both loopbacks."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with DnsServer(zone(), host=["127.0.0.1", "::1"]) as server:
        for host in server.hosts:
            question = DNSRecord.question("mx1.libero.test", "A")
            raw = question.send(host, server.port, tcp=host == "::1", timeout=2, ipv6=":" in host)
            assert [str(rr.rdata) for rr in DNSRecord.parse(raw).rr] == ["172.30.0.11"]
        assert [(q.client, q.transport) for q in server.queries()] == [
            ("127.0.0.1", "udp"),
            ("::1", "tcp"),
        ]


def test_a_port_in_use_is_a_clear_error_and_nothing_stays_bound() -> None:
    with (
        DnsServer(zone()) as first,
        pytest.raises(DnsServerError, match=r"127\.0\.0\.1:\d+: the port is in use"),
    ):
        DnsServer(zone(), port=first.port).start()
    with pytest.raises(DnsServerError, match=r"192\.0\.2\.1 is not an address of this machine"):
        DnsServer(zone(), host="192.0.2.1").start()


def test_not_dns_is_ignored() -> None:
    with DnsServer(zone()) as server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(0.3)
            client.sendto(b"hello", (server.host, server.port))
            with pytest.raises(TimeoutError):
                client.recv(512)
        assert ask(server, "mx1.libero.test", "A").rr
        assert len(server.queries()) == 1
