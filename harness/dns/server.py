"""The harness DNS: an authoritative server for a test zone, over UDP and TCP on one port.

An MTA in a container resolves the scenario's domain through it, so what the MTA does after each
lookup (which MX it tries, whether it queues on SERVFAIL, whether it honours a null MX) can be
measured beside its SMTP attempts. dnslib parses and builds the packets; this module decides
the answer from the `Zone` at the case's time, and journals every question: who asked what,
when, over which transport, and what was answered (or that nothing was).

It runs on its own asyncio loop in a background thread, as a context manager that releases
both sockets even when starting fails. Case time starts at `reset()` (or at start) and runs
`time_scale` times faster than the wall clock, like the receiver's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from dnslib import QTYPE, RCODE, RR, SOA, DNSError, DNSLabel, DNSRecord

from harness.dns.zone import Failure, Zone
from harness.errors import DnsServerError
from harness.lifecycle import Lifecycle

#: Attempts at finding a port free for both UDP and TCP when any port will do.
BIND_ATTEMPTS = 20
#: Wall seconds to wait for the loop thread to start or stop.
THREAD_TIMEOUT = 5.0
#: The largest UDP answer without EDNS (RFC 1035 4.2.1).
UDP_LIMIT = 512
#: Wall seconds a TCP client may stay silent before the server closes it.
TCP_IDLE = 30.0


@dataclass(frozen=True)
class DnsQuery:
    """One question the server received, and what it did with it."""

    t: float  #: case time, real seconds since reset
    wall: float  #: the wall clock (time.time()) when it arrived
    client: str  #: the asker's address
    transport: str  #: `udp` or `tcp`
    name: str  #: the question's name, absolute, lowercase
    rtype: str  #: the question's type (`MX`, `AAAA`)
    rcode: str | None  #: `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`; None: no answer sent
    answers: tuple[str, ...]  #: the answer section, as zone lines
    truncated: bool = False  #: the TC bit was set (UDP: ask again over TCP)
    fault: str | None = None  #: the zone fault that decided the answer, if one did
    zone: str | None = None  #: the origin of the zone that answered; None: none holds the name
    mono: float = 0.0  #: time.monotonic() when it arrived: the receiver journal's clock


class DnsServer(Lifecycle):
    """Serve `zone` (or several zones) on `host` (an address or several; UDP and TCP on each,
    one port for all; port 0 picks one free on every address).

    Each zone keeps its own clock: cases that share one server (one per MX network) start when
    their first message is sent, and each zone's phases and faults count from its own case's
    start (`reset(origin=...)`).
    """

    def __init__(
        self,
        zone: Zone | Sequence[Zone],
        host: str | Sequence[str] = "127.0.0.1",
        port: int = 0,
        *,
        time_scale: float = 1.0,
        journal: str | Path | None = None,
    ) -> None:
        if time_scale <= 0:
            raise DnsServerError(f"time scale {time_scale}: must be > 0")
        #: the zones served, most specific origin first (a question goes to the deepest one)
        self.zones = tuple(
            sorted(
                (zone,) if isinstance(zone, Zone) else zone,
                key=lambda z: -len(z.origin),
            )
        )
        if not self.zones:
            raise DnsServerError("a DNS server needs a zone to serve")
        origins = [z.origin for z in self.zones]
        if len(set(origins)) != len(origins):
            raise DnsServerError(f"zones repeat an origin: {', '.join(sorted(origins))}")
        #: every address it answers on (IPv4 and IPv6 of one network, say), all on one port
        self.hosts = (host,) if isinstance(host, str) else tuple(host)
        if not self.hosts:
            raise DnsServerError("a DNS server needs an address to answer on")
        self.port = port
        self.time_scale = time_scale
        self.journal_path = Path(journal) if journal is not None else None
        self._queries: list[DnsQuery] = []
        self._lock = threading.Lock()
        self._started = dict.fromkeys(origins, time.monotonic())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []
        self._stopping: asyncio.Event | None = None
        self._clients: set[asyncio.Task[Any]] = set()  #: open TCP connections, cancelled at stop

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind both sockets and start answering; on any failure nothing stays open."""
        try:
            self._sockets = self._bind()
            ready: Future[None] = Future()
            self._thread = threading.Thread(
                target=self._run, args=(ready,), name=f"mailstorm-dns-{self.port}", daemon=True
            )
            self._thread.start()
            ready.result(timeout=THREAD_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.reset()

    def stop(self) -> None:
        """Stop answering and release the sockets (idempotent)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(THREAD_TIMEOUT)
            self._thread = None
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    @property
    def zone(self) -> Zone:
        """The zone served, when it is one (the deepest, when there are several)."""
        return self.zones[0]

    def reset(self, at: float = 0.0, origin: str | None = None) -> None:
        """Case time is `at` (real seconds) now and runs on from there, for the zone of
        `origin` (every zone when None); the journal is kept."""
        started = time.monotonic() - at / self.time_scale
        if origin is None:
            self._started = dict.fromkeys(self._started, started)
            return
        key = origin.lower().rstrip(".") + "."
        if key not in self._started:
            raise DnsServerError(f"no zone {key} (serving {', '.join(self._started)})")
        self._started[key] = started

    @property
    def host(self) -> str:
        """The first address it answers on."""
        return self.hosts[0]

    @property
    def address(self) -> str:
        """`host:port` of the first address, `[v6]:port` for IPv6."""
        return _address(self.host, self.port)

    def queries(self) -> list[DnsQuery]:
        """Every question so far, in arrival order."""
        with self._lock:
            return list(self._queries)

    def now(self, origin: str | None = None) -> float:
        """Case time of the zone of `origin` (the first zone when None): real seconds since
        its `reset()`."""
        key = self.zone.origin if origin is None else origin.lower().rstrip(".") + "."
        return (time.monotonic() - self._started[key]) * self.time_scale

    def zone_of(self, name: str) -> Zone | None:
        """The deepest zone that holds `name` (absolute, lowercase), if any."""
        return next((z for z in self.zones if z.contains(name)), None)

    # -- sockets and loop ------------------------------------------------------------------

    def _bind(self) -> list[socket.socket]:
        """A UDP and a TCP socket on every address, all on one port."""
        attempts = BIND_ATTEMPTS if self.port == 0 else 1
        for _ in range(attempts):
            bound: list[socket.socket] = []
            port = self.port
            try:
                for host in self.hosts:
                    family = socket.AF_INET6 if ":" in host else socket.AF_INET
                    udp = socket.socket(family, socket.SOCK_DGRAM)
                    bound.append(udp)
                    udp.bind((host, port))
                    port = udp.getsockname()[1]
                    tcp = socket.socket(family, socket.SOCK_STREAM)
                    bound.append(tcp)
                    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    tcp.bind((host, port))
                    tcp.listen(64)
            except OSError as error:
                for sock in bound:
                    sock.close()
                if error.errno == errno.EADDRINUSE and self.port == 0:
                    continue  # the first socket's port was taken for another: a new port
                raise DnsServerError(self._bind_problem(error, host, port)) from None
            for sock in bound:
                sock.setblocking(False)
            self.port = port
            return bound
        raise DnsServerError(
            f"DNS server on {', '.join(self.hosts)}: no port free for UDP and TCP on every "
            f"address in {BIND_ATTEMPTS} attempts"
        )

    def _bind_problem(self, error: OSError, host: str, port: int) -> str:
        where = f"DNS server on {_address(host, port)}"
        if error.errno == errno.EADDRINUSE:
            return f"{where}: the port is in use (give port 0 for any free one)"
        if error.errno == errno.EADDRNOTAVAIL:
            return f"{where}: {host} is not an address of this machine"
        return f"{where}: {error.strerror or error}"

    def _run(self, ready: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as error:  # reported to start(), which is waiting for it
            if not ready.done():
                ready.set_exception(error)
        finally:
            loop.close()

    async def _serve(self, ready: Future[None]) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        transports, servers = [], []
        for sock in self._sockets:
            if sock.type == socket.SOCK_DGRAM:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self._answer), sock=sock
                )
                transports.append(transport)
            else:
                servers.append(await asyncio.start_server(self._tcp_client, sock=sock))
        ready.set_result(None)
        try:
            await self._stopping.wait()
        finally:
            for transport in transports:
                transport.close()
            for server in servers:
                server.close()
            for client in list(self._clients):
                client.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)
            for server in servers:
                await server.wait_closed()

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _peer(writer.get_extra_info("peername"))
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE):
                    header = await reader.readexactly(2)
                    (length,) = struct.unpack("!H", header)
                    packet = await reader.readexactly(length)
                reply = self._answer(packet, client, "tcp")
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    # -- answers ---------------------------------------------------------------------------

    def _answer(self, packet: bytes, client: str, transport: str) -> bytes | None:
        """The reply to one packet, or None to send nothing; every question is journalled."""
        try:
            request = DNSRecord.parse(packet)
        except (DNSError, struct.error, IndexError, ValueError):
            return None  # not DNS: nothing to answer, nothing to journal
        name = str(request.q.qname).lower()
        rtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
        zone = self.zone_of(name)
        t = self.now(zone.origin if zone is not None else None)
        origin = zone.origin if zone is not None else None
        reply = request.reply()
        fault = zone.fault(name, rtype, t) if zone is not None else None
        if fault is not None and fault.failure is Failure.TIMEOUT:
            self._journal(
                DnsQuery(
                    t,
                    time.time(),
                    client,
                    transport,
                    name,
                    rtype,
                    None,
                    (),
                    fault=fault.describe(),
                    zone=origin,
                    mono=time.monotonic(),
                )
            )
            return None
        if zone is None:
            # The sender's only resolver (resolv.conf names this server): a name outside every
            # zone does not exist on this network, which a recursive resolver says with
            # NXDOMAIN. REFUSED made glibc's resolver report a temporary failure, and Sendmail
            # held every message routed by address behind it (docs/dns.md).
            reply.header.rcode = RCODE.NXDOMAIN
        elif fault is not None and fault.failure is Failure.SERVFAIL:
            reply.header.rcode = RCODE.SERVFAIL
        elif fault is not None and fault.failure is Failure.NXDOMAIN:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(_soa(zone))
        elif fault is not None and fault.failure is Failure.TRUNCATE and transport == "udp":
            reply.header.tc = 1
        else:
            _fill(zone, reply, name, rtype, t)
        data: bytes = reply.pack()
        if transport == "udp" and len(data) > UDP_LIMIT:
            reply = request.reply()
            reply.header.tc = 1
            data = reply.pack()
        self._journal(
            DnsQuery(
                t,
                time.time(),
                client,
                transport,
                name,
                rtype,
                str(RCODE[reply.header.rcode]),
                tuple(rr.toZone() for rr in reply.rr),
                truncated=bool(reply.header.tc),
                fault=fault.describe() if fault is not None else None,
                zone=origin,
                mono=time.monotonic(),
            )
        )
        return data

    def _journal(self, query: DnsQuery) -> None:
        with self._lock:
            self._queries.append(query)
            if self.journal_path is not None:
                with self.journal_path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(query)) + "\n")


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, answer: Callable[[bytes, str, str], bytes | None]) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = self.answer(data, _peer(addr), "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def _fill(zone: Zone, reply: DNSRecord, name: str, rtype: str, t: float) -> None:
    """The zone's data: the records, additional addresses of MX targets, or NXDOMAIN/NODATA
    with the SOA (RFC 2308) so that resolvers cache the negative answer for its TTL."""
    records, exists = zone.lookup(name, rtype, t)
    if not exists:
        reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(_soa(zone))
        return
    for record in records:
        reply.add_answer(record.rr)
    if not records:
        reply.add_auth(_soa(zone))
    for record in records:
        if record.rtype == "MX":
            target = str(record.rr.rdata.label).lower()
            for kind in ("A", "AAAA"):
                for extra in zone.lookup(target, kind, t)[0]:
                    reply.add_ar(extra.rr)


def _soa(zone: Zone) -> RR:
    return RR(
        DNSLabel(zone.origin),
        QTYPE.SOA,
        ttl=60,
        rdata=SOA(f"ns.{zone.origin}", f"hostmaster.{zone.origin}", (1, 60, 60, 3600, 60)),
    )


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address)
