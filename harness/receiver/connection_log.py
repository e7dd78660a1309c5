"""Every connection a sender opened towards an MX host, whether anything answered or not.

The receiver sees the sessions it accepts. A refused connection (nothing listens: the kernel
answers RST) never reaches it, yet "the sender tried the primary first, was refused, and went
on to the secondary" is exactly what an MX scenario must show. The MTAs' logs say it in their
own words (and Postfix logs a failed host without the message's queue id), so the harness reads
it off the wire instead, the same way for every MTA: a packet socket on the MX network's bridge
records each TCP SYN to the SMTP port (a connection's first packet, whatever comes back), with
its client, its destination address (which MX host, which family) and the time, and what came
back: a SYN-ACK (something accepted it), an RST (refused: nothing listens), or nothing.

It takes root (CAP_NET_RAW), like the MX network's addresses. A retransmitted SYN (a host that
drops packets) is the same connection, journalled once.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import struct
import threading
import time
from dataclasses import dataclass

from harness.errors import ReceiverError
from harness.lifecycle import Lifecycle

#: Every protocol (ETH_P_ALL), in network byte order, for the packet socket.
_ETH_P_ALL = 0x0003
_IPV4, _IPV6 = 0x0800, 0x86DD
_TCP = 6
_SYN, _RST, _ACK = 0x02, 0x04, 0x10
#: Wall seconds the reader waits for a packet before looking whether it should stop.
_POLL = 0.2


@dataclass(frozen=True)
class ConnectionAttempt:
    """One TCP connection a client opened (its SYN), answered or not."""

    mono: float  #: time.monotonic() when the SYN was read, the receiver journal's clock
    wall: float  #: time.time() then
    client: str
    client_port: int
    address: str  #: the destination address: which MX host, which family
    port: int
    #: what came back: `accepted` (SYN-ACK), `refused` (RST), `unanswered` (nothing yet)
    answer: str = "unanswered"

    @property
    def family(self) -> str:
        """`ipv4` or `ipv6`."""
        return "ipv6" if ":" in self.address else "ipv4"


class ConnectionLog(Lifecycle):
    """Record the SYNs to `port` on the network interface `interface` (a context manager)."""

    def __init__(self, interface: str, port: int = 25) -> None:
        self.interface = interface
        self.port = port
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str, int], ConnectionAttempt] = {}
        self._failure: OSError | None = None  #: why the reader stopped, if it did on its own

    def start(self) -> None:
        """Open the packet socket on the interface and start reading."""
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        except PermissionError:
            raise ReceiverError(
                "recording connections to the MX hosts needs a packet socket (root, CAP_NET_RAW)"
            ) from None
        self._socket = sock
        try:
            sock.bind((self.interface, 0))
        except OSError as error:
            self.stop()
            raise ReceiverError(
                f"cannot record connections on {self.interface}: {error.strerror or error}"
            ) from None
        self._thread = threading.Thread(
            target=self._read, name=f"mailstorm-connections-{self.interface}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the socket (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5 * _POLL)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def attempts(self) -> list[ConnectionAttempt]:
        """Every connection so far, in the order their first SYN arrived; an error when the
        reader stopped on its own (the evidence would be incomplete)."""
        if self._failure is not None:
            raise ReceiverError(
                f"recording connections on {self.interface} stopped: {self._failure}"
            )
        with self._lock:
            return sorted(self._seen.values(), key=lambda a: a.mono)

    def _read(self) -> None:
        sock = self._socket
        assert sock is not None
        # A timeout, not select(): a run holds a thousand sockets and more, past FD_SETSIZE.
        sock.settimeout(_POLL)
        try:
            while not self._stop.is_set():
                try:
                    frame = sock.recv(256)
                except TimeoutError:
                    continue
                self._note(frame)
        except OSError as error:
            if not self._stop.is_set():
                self._failure = error

    def _note(self, frame: bytes) -> None:
        segment = segment_of(frame)
        if segment is None:
            return
        flags, source, source_port, destination, destination_port = segment
        with self._lock:
            if flags & _SYN and not flags & _ACK and destination_port == self.port:
                key = (source, source_port, destination, destination_port)
                if key not in self._seen:
                    self._seen[key] = ConnectionAttempt(time.monotonic(), time.time(), *key)
            elif source_port == self.port:
                # the server's side: the answer to a client's SYN, if one is pending
                key = (destination, destination_port, source, source_port)
                attempt = self._seen.get(key)
                if attempt is not None and attempt.answer == "unanswered":
                    if flags & _SYN and flags & _ACK:
                        self._seen[key] = dataclasses.replace(attempt, answer="accepted")
                    elif flags & _RST:
                        self._seen[key] = dataclasses.replace(attempt, answer="refused")


def syn_of(frame: bytes, port: int) -> tuple[str, int, str] | None:
    """(client, client port, destination) of an Ethernet frame carrying a TCP SYN (without
    ACK) to `port`; None for anything else."""
    segment = segment_of(frame)
    if segment is None:
        return None
    flags, client, client_port, address, destination = segment
    if destination != port or not flags & _SYN or flags & _ACK:
        return None
    return client, client_port, address


def segment_of(frame: bytes) -> tuple[int, str, int, str, int] | None:
    """(TCP flags, source, source port, destination, destination port) of an Ethernet frame
    carrying TCP over IPv4 or IPv6 (no extension headers); None for anything else."""
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype == _IPV4 and len(frame) >= 34:
        header = (frame[14] & 0x0F) * 4
        if frame[23] != _TCP:
            return None
        source = str(ipaddress.IPv4Address(frame[26:30]))
        destination = str(ipaddress.IPv4Address(frame[30:34]))
        tcp = 14 + header
    elif ethertype == _IPV6 and len(frame) >= 54:
        if frame[20] != _TCP:
            return None
        source = str(ipaddress.IPv6Address(frame[22:38]))
        destination = str(ipaddress.IPv6Address(frame[38:54]))
        tcp = 54
    else:
        return None
    if len(frame) < tcp + 14:
        return None
    source_port, destination_port = struct.unpack_from("!HH", frame, tcp)
    return frame[tcp + 13], source, source_port, destination, destination_port
