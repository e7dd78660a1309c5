"""A minimal SMTP client for load: one message per session, each phase timed on its own.

Built for speed under gevent (a bare `smtplib` loop reaches about an eighth of Postfix's
`smtp-source`): a raw socket, one receive buffer per connection, replies parsed in place, no
logging, no per-line decoding. It speaks just what a sender MTA speaks to deliver one message:
greeting, EHLO (HELO when EHLO is refused), MAIL, RCPT, DATA, the message, QUIT.

Phases and how they are timed (seconds of `time.perf_counter`):

- `connect`: the TCP handshake (`connect()` returning).
- `greeting`: from connected to the 220 banner read.
- `ehlo`: EHLO written to its (multi-line) reply read.
- `mail`, `rcpt`, `data`: without pipelining, each command written to its reply read.
  With PIPELINING (RFC 2920, used only when the server advertises it and `pipelining` is on),
  MAIL, RCPT and DATA go in one write; `mail` runs from that write to MAIL's reply, `rcpt` from
  MAIL's reply to RCPT's, `data` from RCPT's reply to DATA's. The sum of the three is the honest
  round trip of the group; replies that arrive in the same segment show up as near-zero phases.
- `eod`: the message and its final dot written to the reply read. QUIT is written together
  with the final dot (RFC 2920 allows QUIT as the last command of a group after the content);
  its 221 is read when it is there but not timed or reported.

A session that is killed (`GreenletExit`, as Locust stops a user) while it waits for a reply
finishes first and returns with `stop_requested` set, so its caller settles the message and
then stops: cutting it mid-DATA could leave a
message the server committed but the sender never heard of, sent again later (a duplicate the
load made up). Killed while connecting, it stops at once (nothing was sent).

A phase ends as `PhaseOutcome` (ok, or a failure grouped by reply code, timeout or transport
error); the session stops at the first failing phase and tells whether the failure was
temporary (4xx, timeout, connection trouble: the sender retries) or permanent (5xx: bounce).
"""

from __future__ import annotations

import contextlib
import errno
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from gevent import GreenletExit

CONNECT: Final = "connect"
GREETING: Final = "greeting"
EHLO: Final = "ehlo"
MAIL: Final = "mail"
RCPT: Final = "rcpt"
DATA: Final = "data"
EOD: Final = "eod"
#: Every phase a session reports, in order.
PHASES: Final = (CONNECT, GREETING, EHLO, MAIL, RCPT, DATA, EOD)

#: Outcome kinds of a session.
DELIVERED: Final = "delivered"
DEFERRED: Final = "deferred"  #: 4xx, timeout or transport failure: a sender queues and retries
BOUNCED: Final = "bounced"  #: 5xx: a sender gives up on the message at once

_ENHANCED = re.compile(rb"^[245]\.\d{1,3}\.\d{1,3}$")
_RECV_SIZE = 65536


class SmtpFailure(Exception):
    """A failed phase, as Locust groups it: the text is the reply code and enhanced code only
    ("421 4.7.0"), "timeout", or the transport error ("connection refused"), never the free
    text after them, so failures of one kind land in one row of Locust's failure table."""

    __slots__ = ("code", "reply")

    def __init__(self, label: str, code: int = 0, reply: str = "") -> None:
        super().__init__(label)
        self.code = code
        self.reply = reply

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


class _Reply(Exception):
    """Internal: a complete reply that is not the one wanted (raised out of `_expect`)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """What one session delivers: envelope sender, one recipient, and the wire form of the
    message (CRLF lines, dot-stuffed, without the final dot)."""

    sender: str
    recipient: str
    content: bytes


#: One address of the target: (address family, socket address) as `getaddrinfo` gives them.
_Endpoint = tuple[socket.AddressFamily, tuple[Any, ...]]

#: Called once per phase that ran: (phase, seconds, failure or None).
PhaseReporter = Callable[[str, float, SmtpFailure | None], None]


def wire_content(headers: str, body_size: int) -> bytes:
    """A message of `headers` (CRLF-separated, no blank line) and about `body_size` bytes of
    body, ready to send after DATA: CRLF line ends, no line starting with a dot."""
    line = b"x" * 76 + b"\r\n"
    lines, rest = divmod(max(body_size, 0), len(line))
    body = line * lines + (b"y" * max(rest - 2, 0) + b"\r\n" if rest else b"")
    return headers.encode("ascii").rstrip(b"\r\n") + b"\r\n\r\n" + body


class SmtpSession:
    """One connection delivering one envelope. `run()` returns DELIVERED, DEFERRED or BOUNCED
    and reports every phase that ran to `report`; the socket is closed when it returns."""

    __slots__ = (
        "_buffer",
        "_endpoints",
        "_socket",
        "_stop_requested",
        "address",
        "helo",
        "pipelining",
        "report",
        "source",
        "timeout",
    )

    def __init__(
        self,
        address: tuple[str, int],
        *,
        helo: str,
        timeout: float,
        report: PhaseReporter,
        pipelining: bool = True,
        source: str | None = None,
    ) -> None:
        """`source`: the client address to connect from (one sending host of the herd)."""
        self.address = address
        self.source = source
        self.helo = helo
        self.timeout = timeout
        self.report = report
        self.pipelining = pipelining
        self._socket: socket.socket | None = None
        self._buffer = b""
        self._stop_requested = False
        self._endpoints: list[_Endpoint] | None = None

    @property
    def stop_requested(self) -> bool:
        """The greenlet was asked to die during the last `run`, which finished regardless."""
        return self._stop_requested

    def run(self, envelope: Envelope) -> str:
        self._stop_requested = False
        report = self.report
        started = time.perf_counter()
        phase = CONNECT
        try:
            try:
                sock = self._connect()
            except OSError as error:
                report(CONNECT, time.perf_counter() - started, _transport_failure(error))
                return DEFERRED
            self._socket = sock
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            now = time.perf_counter()
            report(CONNECT, now - started, None)
            phase, started = GREETING, now
            self._expect(220)
            now = time.perf_counter()
            report(GREETING, now - started, None)

            phase, started = EHLO, now
            _write(sock, b"EHLO " + self.helo.encode() + b"\r\n")
            code, text = self._read_reply()
            if code != 250:  # an old server: try HELO, as MTAs do
                _write(sock, b"HELO " + self.helo.encode() + b"\r\n")
                code, text = self._read_reply()
                if code != 250:
                    raise _failure(code, text)
            pipelined = self.pipelining and _advertises(text, b"PIPELINING")
            now = time.perf_counter()
            report(EHLO, now - started, None)

            mail = b"MAIL FROM:<" + envelope.sender.encode() + b">\r\n"
            rcpt = b"RCPT TO:<" + envelope.recipient.encode() + b">\r\n"
            phase, started = MAIL, now
            if pipelined:
                _write(sock, mail + rcpt + b"DATA\r\n")
                mail_reply = self._read_reply()
                mail_at = time.perf_counter()
                rcpt_reply = self._read_reply()
                rcpt_at = time.perf_counter()
                data_reply = self._read_reply()
                if mail_reply[0] != 250:
                    self._finish_refused_data(data_reply[0])
                    raise _failure(*mail_reply)
                report(MAIL, mail_at - started, None)
                phase, started = RCPT, mail_at
                if rcpt_reply[0] not in (250, 251):
                    self._finish_refused_data(data_reply[0])
                    raise _failure(*rcpt_reply)
                report(RCPT, rcpt_at - started, None)
                phase, started = DATA, rcpt_at
                if data_reply[0] != 354:
                    raise _failure(*data_reply)
            else:
                _write(sock, mail)
                self._expect(250)
                now = time.perf_counter()
                report(MAIL, now - started, None)
                phase, started = RCPT, now
                _write(sock, rcpt)
                code, text = self._read_reply()
                if code not in (250, 251):
                    raise _failure(code, text)
                now = time.perf_counter()
                report(RCPT, now - started, None)
                phase, started = DATA, now
                _write(sock, b"DATA\r\n")
                self._expect(354)
            now = time.perf_counter()
            report(DATA, now - started, None)

            phase, started = EOD, now
            _write(sock, envelope.content + b".\r\nQUIT\r\n")
            self._expect(250)
            report(EOD, time.perf_counter() - started, None)
            return DELIVERED
        except SmtpFailure as failure:
            report(phase, time.perf_counter() - started, failure)
            if failure.code:
                self._say_quit()
            return BOUNCED if failure.permanent else DEFERRED
        except OSError as error:
            report(phase, time.perf_counter() - started, _transport_failure(error))
            return DEFERRED
        finally:
            self._close()

    def _connect(self) -> socket.socket:
        """A connected socket, trying the target's addresses in order as
        `socket.create_connection` does, but resolved once per session object: under gevent
        every lookup, even of a numeric address, is a round trip through a thread pool.
        Looking up once raised one worker process from 1,734 to 2,320 sessions/s against
        `smtp-sink` (`mailstorm bench load`, one run each on a 2-core EPYC)."""
        endpoints = self._endpoints
        if endpoints is None:
            host, port = self.address
            endpoints = self._endpoints = [
                (family, address)
                for family, _, _, _, address in socket.getaddrinfo(
                    host, port, 0, socket.SOCK_STREAM
                )
            ]
        if not endpoints:
            raise OSError(errno.EADDRNOTAVAIL, f"{self.address[0]} has no address")
        last: OSError | None = None
        for family, address in endpoints:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                if self.source is not None:
                    sock.bind((self.source, 0))
                sock.connect(address)
            except OSError as error:
                sock.close()
                last = error
                continue
            except BaseException:  # killed while connecting (GreenletExit): no socket leaks
                sock.close()
                raise
            return sock
        assert last is not None
        raise last

    def _finish_refused_data(self, data_code: int) -> None:
        """After a pipelined MAIL or RCPT failed, DATA may still have got 354 (RFC 2920 says
        the client must then send an empty message): end it so the server stays in step."""
        if data_code == 354 and self._socket is not None:
            _write(self._socket, b".\r\n")
            self._read_reply()

    def _expect(self, wanted: int) -> None:
        code, text = self._read_reply()
        if code != wanted:
            raise _failure(code, text)

    def _read_reply(self) -> tuple[int, bytes]:
        """The next complete reply: (code, all its lines). Raises SmtpFailure on a closed
        connection or garbage; socket.timeout (an OSError) when the server says nothing."""
        buffer = self._buffer
        sock = self._socket
        assert sock is not None
        while True:
            # Fast path: a one-line reply at the start of the buffer.
            end = buffer.find(b"\n")
            if end >= 3:
                if buffer[3:4] != b"-":
                    reply, self._buffer = buffer[: end + 1], buffer[end + 1 :]
                    return _code(reply), reply
                # Multi-line: complete when a line "NNN " (or "NNN\r\n") has arrived.
                start = 0
                while end >= 0:
                    if buffer[start + 3 : start + 4] != b"-":
                        reply, self._buffer = buffer[: end + 1], buffer[end + 1 :]
                        return _code(reply[start:]), reply
                    start = end + 1
                    end = buffer.find(b"\n", start)
            try:
                data = sock.recv(_RECV_SIZE)
            except GreenletExit:
                # Stopped while waiting for a reply (Locust stopping the slot): finish the
                # session first; the caller stops after settling (`stop_requested`).
                self._stop_requested = True
                continue
            if not data:
                self._buffer = b""
                raise SmtpFailure("connection closed")
            buffer += data

    def _say_quit(self) -> None:
        """After a refusal, say QUIT as a polite sender does; whatever follows is ignored."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                _write(self._socket, b"QUIT\r\n")

    def _close(self) -> None:
        sock, self._socket = self._socket, None
        self._buffer = b""
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def _write(sock: socket.socket, data: bytes) -> None:
    """`sock.sendall(data)` without gevent's per-call `getsockopt(SO_SNDBUF)` (it sizes its
    chunks by it): one `send` does for a command, a loop finishes a message that did not fit."""
    sent = sock.send(data)
    if sent < len(data):
        view = memoryview(data)
        while sent < len(data):
            sent += sock.send(view[sent:])


def _advertises(ehlo_reply: bytes, keyword: bytes) -> bool:
    """Whether an EHLO reply lists `keyword` as one of its extension lines."""
    for line in ehlo_reply.split(b"\n")[1:]:
        if line[4:].strip().upper().split(b" ", 1)[0] == keyword:
            return True
    return False


def _code(line: bytes) -> int:
    try:
        return int(line[:3])
    except ValueError:
        raise SmtpFailure("bad reply") from None


def _failure(code: int, text: bytes) -> SmtpFailure:
    """The failure for an unwanted reply, labelled by code and enhanced code ("451 4.3.0")."""
    last = text.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    parts = last[4:].split(None, 1)
    label = str(code)
    if parts and _ENHANCED.match(parts[0]):
        label += " " + parts[0].decode("ascii")
    return SmtpFailure(label, code, text.decode("utf-8", "replace").strip())


def _transport_failure(error: OSError) -> SmtpFailure:
    if isinstance(error, TimeoutError | socket.timeout):
        return SmtpFailure("timeout")
    if isinstance(error, ConnectionRefusedError):
        return SmtpFailure("connection refused")
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return SmtpFailure("connection reset")
    name = errno.errorcode.get(error.errno or 0, "")
    return SmtpFailure(f"socket error {name}" if name else f"socket error {error}")
