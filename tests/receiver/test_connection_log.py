"""The connection log on a real interface (loopback): SYNs to the port, answered or refused."""

from __future__ import annotations

import resource
import socket

import pytest

from harness.errors import ReceiverError
from harness.receiver.connection_log import ConnectionAttempt, ConnectionLog, syn_of
from harness.waiting import wait_until


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def refused_once(host: str, port: int) -> list[ConnectionAttempt]:
    """Connect once to `host:port`, where nothing listens, and return what the log recorded
    once it has the RST."""
    with ConnectionLog("lo", port=port) as log:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=2)
        wait_until(
            lambda: [a.answer for a in log.attempts()] == ["refused"],
            timeout=5,
            what="a refused connection recorded",
            seen=lambda: repr(log.attempts()),
        )
        return log.attempts()


def test_records_accepted_and_refused_connections_once_each() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with ConnectionLog("lo", port=port) as log:
            accepted = socket.create_connection(("127.0.0.1", port), timeout=2)
            client_port = accepted.getsockname()[1]
            accepted.close()
            server.close()  # nothing listens now: the next connection is refused (RST)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2)
            wait_until(
                lambda: [a.answer for a in log.attempts()] == ["accepted", "refused"],
                timeout=5,
                what="two connections and their answers recorded",
                seen=lambda: repr(log.attempts()),
            )
            attempts = log.attempts()
    # loopback shows each packet twice (out and in): one attempt per connection all the same
    assert len(attempts) == 2
    assert [a.address for a in attempts] == ["127.0.0.1", "127.0.0.1"]
    assert attempts[0].client_port == client_port
    assert {a.family for a in attempts} == {"ipv4"}
    assert attempts[0].mono <= attempts[1].mono
    assert [a.answer for a in attempts] == ["accepted", "refused"]


def test_ipv6_connections_name_their_family() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    port = free_port("::1")
    (attempt,) = refused_once("::1", port)
    assert (attempt.address, attempt.family, attempt.answer) == ("::1", "ipv6", "refused")


def test_only_syns_to_the_port_count() -> None:
    ethernet = bytes(12) + b"\x08\x00"
    ip = bytes([0x45]) + bytes(8) + bytes([6]) + bytes(2) + bytes([10, 0, 0, 2, 10, 0, 0, 1])

    def tcp(port: int, flags: int) -> bytes:
        return (
            (40000).to_bytes(2, "big")
            + port.to_bytes(2, "big")
            + bytes(9)
            + bytes([flags])
            + bytes(6)
        )

    assert syn_of(ethernet + ip + tcp(25, 0x02), 25) == ("10.0.0.2", 40000, "10.0.0.1")
    assert syn_of(ethernet + ip + tcp(25, 0x12), 25) is None  # SYN-ACK: the server's
    assert syn_of(ethernet + ip + tcp(587, 0x02), 25) is None
    assert syn_of(b"\x00" * 10, 25) is None


def test_an_unknown_interface_is_a_clear_error() -> None:
    with pytest.raises(ReceiverError, match="cannot record connections on nosuchif0"):
        ConnectionLog("nosuchif0").start()


def test_works_past_a_thousand_open_descriptors() -> None:
    """A full matrix run holds more than 1024 sockets: the log's own must still be read (select()
    refused such a descriptor, and the reader thread died, leaving the evidence empty)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"at most {hard} open files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [socket.socket() for _ in range(1030)]
    try:
        port = free_port("127.0.0.1")
        (attempt,) = refused_once("127.0.0.1", port)
        assert attempt.address == "127.0.0.1"
    finally:
        for sock in held:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
