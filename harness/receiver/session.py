"""One SMTP session of the receiver: aiosmtpd's protocol with the fault plan at every stage.

aiosmtpd parses SMTP; this subclass decides, at each stage, whether to behave normally or to
reply, stall or hang up as the plan says, and records everything in the journal. Stages that
aiosmtpd exposes as handler hooks (EHLO/HELO, MAIL, RCPT, end-of-data, QUIT) are decided in
`PlanHooks`; the greeting, the DATA command and BDAT chunks (RFC 3030, `chunking.py`) have no
hook, so they are decided in overrides.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax

from harness.message_ids import id_from_address, id_from_content
from harness.receiver import chunking
from harness.receiver.decider import Decider, Decision, Facts
from harness.receiver.extensions import ehlo_lines, with_enhanced_code
from harness.receiver.journal import CLOSED_AFTER_REPLY, GAVE_UP_DURING_STALL, HALF_CLOSED
from harness.receiver.journal_writer import JournalWriter
from harness.receiver.plan import Capability, Drop, DropMode, Reply, Stage

if TYPE_CHECKING:
    from harness.receiver.listeners import BoundListener


class SessionHost(Protocol):
    """What a session needs of the server it runs in (`harness.receiver.server.SessionHost`).

    A protocol, so this module does not import the server that imports it.
    """

    decider: Decider
    journal: JournalWriter
    plan_hooks: PlanHooks
    hostname: str
    idle_timeout: float
    data_size_limit: int
    loop: asyncio.AbstractEventLoop

    def report_error(self, error: BaseException) -> None:
        """Keep an error raised on the event loop, to re-raise it in the driving thread."""

    def session_opened(self, session: FaultySMTP) -> None:
        """Count a session in (it holds the server open until it ends)."""

    def session_closed(self, session: FaultySMTP) -> None:
        """Count a session out."""


_END_OF_DATA = b"\r\n.\r\n"
#: Wall seconds after a stall began within which a FIN still counts as pipelined with the
#: commands before it (Exim sends the dot, QUIT and FIN together; TCP may split them): a
#: client that gives up does so after its timeout, seconds of wall time even at k = 60.
PIPELINED_FIN_WINDOW = 0.5
_COMMAND_STAGES = {
    "EHLO": Stage.EHLO,
    "HELO": Stage.EHLO,
    "MAIL": Stage.MAIL,
    "RCPT": Stage.RCPT,
    "DATA": Stage.DATA,
    "BDAT": Stage.BDAT,
    "QUIT": Stage.QUIT,
}


class _Hangup(asyncio.CancelledError):
    """Raised to end a session on purpose: aiosmtpd lets CancelledError end its client loop."""


@dataclass
class _Transaction:
    """What this session knows of the current mail transaction."""

    message_id: str | None = None
    message_attempt: int | None = None
    pair_attempts: dict[str, int] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)  #: BDAT chunks read so far
    chunk_failed: bool = False  #: a chunk was refused: the rest of the message is discarded


class FaultySMTP(SMTP):
    """The receiver's SMTP protocol: one instance per connection."""

    def __init__(self, core: SessionHost, listener: BoundListener) -> None:
        super().__init__(
            core.plan_hooks,
            hostname=core.hostname,
            ident="mailstorm receiver",
            timeout=core.idle_timeout,
            data_size_limit=core.data_size_limit,
            enable_SMTPUTF8=True,
            loop=core.loop,
        )
        self.core = core
        self.listener = listener
        self.session_id = 0
        self.client = ""
        self.transaction = _Transaction()
        self._greeting: str | None = None
        self._open = False
        self._stage: Stage | None = Stage.GREETING  #: of the command being answered
        self._peer_eof = False  #: the client closed its sending side (FIN)
        self._stalling = False  #: a rule's stall is running
        self._stalling_forever = False
        self._gave_up = False  #: the FIN came while a stall ran: the client stopped waiting
        self._stall_began = 0.0  #: loop time the running stall began
        # aiosmtpd only calls .get() and .items() on this table, which a Mapping provides.
        self._smtp_methods = _JournaledCommands(self, self._smtp_methods)  # type: ignore[assignment]

    def __dir__(self) -> list[str]:
        """Only the smtp_* and auth_* names: aiosmtpd's __init__ scans dir(self) and getattr's
        every name (inspect.getmembers) on each connection to find those methods, which cost
        a sixth of the receiver's CPU; they are the class's, so they are listed once per class."""
        return _names_with_prefix(type(self), ("smtp_", "auth_"))

    # -- connection lifecycle -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._open:
            self._open = True
            peer = transport.get_extra_info("peername")
            self.client = str(peer[0]) if peer else ""
            self.session_id = self.core.journal.record_session(
                self.listener.name, self.listener.address, self.client
            )
            self.core.session_opened(self)
            self.record("connect", f"from {self.client} to {self.listener.address}")
        super().connection_made(transport)
        reader = getattr(self, "_reader", None)
        if reader is not None and not getattr(reader, "_mailstorm_eof_ends", False):
            reader.readuntil = _end_at_eof(reader.readuntil)
            reader._mailstorm_eof_ends = True

    def data_received(self, data: bytes) -> None:
        """Acknowledge what arrives at once (TCP_QUICKACK, re-armed at every read: Linux
        leaves quick-ack mode by itself).

        A sender with Nagle's algorithm on (Node's sockets: Haraka) holds the final dot of a
        message until its body is acknowledged, and the receiving kernel delays that ACK up
        to 40 ms: measured, 42 ms from 354 to the dot on the real clock. Harmless to a real
        sender, but on a clock warped by 2880 it is two minutes, and Haraka's 30-second
        socket timeout fired "waiting on dot" on every message, which was then sent again: a
        duplicate the harness made. Nothing of SMTP changes, only when the ACK leaves."""
        transport = self.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        super().data_received(data)

    def connection_lost(self, error: Exception | None) -> None:
        if self._open:
            self._open = False
            self.core.session_closed(self)
            self.record("disconnect", f"connection closed{f': {error}' if error else ''}")
        super().connection_lost(error)

    def eof_received(self) -> bool:
        """The client closed its sending side: answer what it sent, then end the session.

        A FIN is not a hang-up. Exim, with PIPELINING offered, sends the final dot and QUIT
        together and then shuts its side down (`shutdown(SHUT_WR)`, transports/smtp.c 4.96,
        "pipeline QUIT"), and waits for the replies; a real MX answers them. aiosmtpd cancels
        its session on EOF instead, which cut every such delivery. So the commands already
        received are processed and answered, and the session ends when the reader runs out
        (`_end_at_eof`). Only a stall that never ends (a blackhole) is cut at once: nobody is
        left to wait for it. The moment is journalled (`eof`): how long a client waited for
        a stalled reply ends there, not when the stall does.
        """
        if not self._peer_eof:
            self._peer_eof = True
            # A FIN sent with the commands (Exim's pipelined QUIT) comes as a stall begins,
            # and its client still reads the replies; one that comes later while a stall runs
            # is a client that stopped waiting (its timeout), whatever it sent last.
            self._gave_up = (
                self._stalling and self.loop.time() - self._stall_began > PIPELINED_FIN_WINDOW
            )
            self.record("eof", GAVE_UP_DURING_STALL if self._gave_up else HALF_CLOSED)
        if self._stalling_forever or self._handler_coroutine is None:
            if self._handler_coroutine is not None:
                self._handler_coroutine.cancel()
            return False
        asyncio.StreamReaderProtocol.eof_received(self)
        return True

    def abort(self) -> None:
        """Cut the connection now (RST, unsent replies dropped). uvloop's transports are not
        `asyncio.Transport` subclasses, so this asks for the method, not the type: an
        isinstance check silently skipped every abort under uvloop."""
        abort = getattr(self.transport, "abort", None)
        if abort is not None:
            abort()

    def client_gave_up(self) -> bool:
        """The client closed its side while a stall kept it waiting: it stopped waiting. A
        client that sent its FIN with the commands (Exim pipelines the dot, QUIT and FIN) still
        reads the replies; that FIN comes within `PIPELINED_FIN_WINDOW` of the stall's start.
        A pipelined QUIT alone says nothing: Postfix pipelines QUIT after the dot, then
        closes when its own timeout expires."""
        return self._gave_up

    def record(self, kind: str, text: str, rule: int | None = None) -> None:
        stage = self._stage
        self.core.journal.record_event(
            self.session_id,
            kind,
            text,
            stage=stage.value if stage else None,
            rule=rule,
            message_id=self.transaction.message_id,
        )

    def _journaled(
        self, name: str, method: Callable[[str | None], Awaitable[None]]
    ) -> Callable[[str | None], Awaitable[None]]:
        stage = _COMMAND_STAGES.get(name)

        async def journaled(arg: str | None) -> None:
            self._stage = stage
            if stage is Stage.MAIL:  # a new transaction: its id is known from the command line
                self.transaction = _Transaction(message_id=id_from_address(arg or ""))
            self.record("command", f"{name} {arg}" if arg else name)
            await method(arg)

        return journaled

    async def push(self, status: str | bytes) -> None:
        greeting = self._greeting is not None
        if self._greeting is not None:  # mypy narrows on the attribute, not on `greeting`
            status, self._greeting = self._greeting, None
        text = status if isinstance(status, str) else status.decode("utf-8", "surrogateescape")
        if (
            not greeting
            and self._stage not in (Stage.GREETING, Stage.EHLO)
            and Capability.ENHANCEDSTATUSCODES in self.core.decider.plan.capabilities
        ):
            text = with_enhanced_code(text)
        self.record("reply", text)
        await super().push(text)

    # -- deciding and acting ----------------------------------------------------------------

    def facts(
        self,
        stage: Stage,
        *,
        sender: str | None = None,
        recipients: tuple[str, ...] | None = None,
    ) -> Facts:
        envelope = self.envelope
        session = self.session
        if sender is None and envelope is not None:
            sender = envelope.mail_from
        if recipients is None:
            recipients = tuple(envelope.rcpt_tos) if envelope is not None else ()
        pairs = self.transaction.pair_attempts
        return Facts(
            stage=stage,
            listener=self.listener.name,
            listen_address=self.listener.address,
            client=self.client,
            helo=(session.host_name or "") if session is not None else "",
            sender=_plain_sender(sender),
            recipients=recipients,
            message_attempt=self.transaction.message_attempt,
            pair_attempts=tuple(pairs.get(recipient.lower(), 0) for recipient in recipients),
        )

    async def decide(self, facts: Facts) -> Decision | None:
        """Run the plan for this stage: None when the server should go on as normal."""
        decision = self.choose(facts)
        if decision is not None:
            await self.act(decision)
        return decision

    def choose(self, facts: Facts) -> Decision | None:
        """The rule that fires at this stage, journalled; None when none does."""
        if not self.core.decider.has_rules(facts.stage):
            return None
        decision = self.core.decider.decide(facts)
        if decision.rule is None:
            return None
        self._stage = facts.stage
        self.record("decision", decision.describe(), decision.rule.index)
        return decision

    async def act(self, decision: Decision) -> None:
        """The decision's stall, and a drop before replying; other outcomes are the stage's."""
        await self._stall(decision.action.stall)
        if isinstance(decision.action.outcome, Drop) and (
            decision.action.outcome.mode is DropMode.BEFORE_REPLY
        ):
            self.hang_up("dropped before replying")

    async def _stall(self, real_seconds: float) -> None:
        if real_seconds <= 0:
            return
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        self._stalling = True
        self._stall_began = self.loop.time()
        try:
            if math.isinf(real_seconds):
                self._stalling_forever = True
                if self._peer_eof:  # the client is already gone: nobody waits for the stall
                    raise _Hangup("the client left during a stall that never ends")
                await self.loop.create_future()  # until the client or the receiver hangs up
            await asyncio.sleep(self.core.decider.wall_seconds(real_seconds))
        finally:
            self._stalling = False
        self._reset_timeout()

    def hang_up(self, why: str) -> None:
        """Cut the connection without a reply and end the session's client loop."""
        self.record("drop", why)
        self.abort()
        raise _Hangup(why)

    async def send_reply(self, reply: Reply, facts: Facts) -> str | None:
        """Send `reply` now if it closes the connection; else return it for aiosmtpd to send."""
        rendered = reply.render(_template_fields(facts))
        if not reply.close:
            return rendered
        await self.push(rendered)
        self.record("drop", CLOSED_AFTER_REPLY)
        if self.transport is not None:
            self.transport.close()
        raise _Hangup(CLOSED_AFTER_REPLY)

    # -- stages without an aiosmtpd hook ----------------------------------------------------

    async def _handle_client(self) -> None:
        try:
            facts = self.facts(Stage.GREETING)
            decision = await self.decide(facts)
            reply = decision.action.outcome if decision is not None else None
            if isinstance(reply, Reply):
                rendered = await self.send_reply(reply, facts)
                if reply.code >= 300:
                    await self.push(rendered or "")
                    await self._refuse_commands()
                    return
                self._greeting = rendered
        except asyncio.CancelledError:
            # The client hung up (aiosmtpd cancels us on EOF) or we did: either way the
            # connection must close, or a half-closed socket would keep the session open.
            if self.transport is not None:
                self.transport.close()
            raise
        await super()._handle_client()

    async def _refuse_commands(self) -> None:
        """After a refusing greeting (554, 521), answer 503 to all but QUIT (RFC 5321 3.1)."""
        while self.transport is not None:
            line = await self._reader.readline()
            if not line:
                self.transport.close()
                return
            command = line.strip().split(b" ", 1)[0].upper()
            self.record("command", line.strip().decode("utf-8", "replace"))
            if command == b"QUIT":
                await self.push("221 2.0.0 Bye")
                self.transport.close()
                return
            await self.push("503 5.5.1 No service here; only QUIT")

    async def smtp_DATA(self, arg: str | None) -> None:
        envelope, session = self.envelope, self.session
        ready = bool(envelope and envelope.rcpt_tos and session and session.host_name)
        if arg or not ready:
            await super().smtp_DATA(arg)  # aiosmtpd answers the protocol errors
            return
        facts = self.facts(Stage.DATA)
        decision = await self.decide(facts)
        outcome = decision.action.outcome if decision is not None else None
        if isinstance(outcome, Reply):
            await self.push(await self.send_reply(outcome, facts) or "")
            return
        if isinstance(outcome, Drop) and outcome.mode is DropMode.MID_DATA:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._read_then_drop(outcome.after_bytes)
        await super().smtp_DATA(arg)

    @syntax("BDAT chunk-size [LAST]")
    async def smtp_BDAT(self, arg: str | None) -> None:
        """One RFC 3030 chunk: decided at stage `bdat` once its command is read, consumed in
        full whatever the answer, and the last one answered as end-of-data (stage `eod`)."""
        parsed = chunking.parse_bdat(arg)
        if parsed is None:
            await self.push(chunking.SYNTAX_ERROR)
            return
        envelope, session = self.envelope, self.session
        offered = Capability.CHUNKING in self.core.decider.plan.capabilities
        ready = bool(envelope and envelope.rcpt_tos and session and session.host_name)
        refusal = (
            chunking.NOT_OFFERED
            if not offered
            else chunking.NO_TRANSACTION
            if not ready
            else chunking.AFTER_FAILED_CHUNK
            if self.transaction.chunk_failed
            else None
        )
        if refusal is not None or envelope is None:
            await self._read_chunk(parsed.size)
            await self.push(refusal or chunking.NO_TRANSACTION)
            return
        facts = self.facts(Stage.BDAT)
        decision = await self.decide(facts)
        outcome = decision.action.outcome if decision is not None else None
        if isinstance(outcome, Drop) and outcome.mode is DropMode.MID_DATA:
            read = len(await self._read_chunk(min(parsed.size, outcome.after_bytes)))
            self.hang_up(f"dropped mid-chunk after {read} bytes")
        chunk = await self._read_chunk(parsed.size)
        if isinstance(outcome, Reply) and outcome.code >= 300:
            await self._fail_chunked(await self.send_reply(outcome, facts) or "")
            return
        self.transaction.chunks.append(chunk)
        total = sum(len(c) for c in self.transaction.chunks)
        if self.data_size_limit and total > self.data_size_limit:
            await self._fail_chunked(chunking.TOO_MUCH)
            return
        if not parsed.last:
            reply = await self.send_reply(outcome, facts) if isinstance(outcome, Reply) else None
            await self.push(reply or chunking.chunk_accepted(parsed.size))
            return
        content = b"".join(self.transaction.chunks)
        self.transaction.chunks.clear()
        envelope.original_content = content
        envelope.content = content.decode("utf-8", "surrogateescape")
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def _fail_chunked(self, reply: str) -> None:
        """Refuse the chunked message with `reply`: its chunks so far are dropped, and the
        chunks of it still in the pipeline get 503 (RFC 3030 section 2)."""
        self.transaction.chunks.clear()
        self.transaction.chunk_failed = True
        await self.push(reply)

    async def _read_chunk(self, size: int) -> bytes:
        """Exactly `size` octets of a chunk; a client that closes before sending them all has
        hung up mid-chunk."""
        try:
            return await self._reader.readexactly(size)
        except asyncio.IncompleteReadError as error:
            self.hang_up(f"the client closed mid-chunk after {len(error.partial)} of {size} bytes")
            raise  # hang_up raised already; this line is for the type checker

    async def _read_then_drop(self, limit: int) -> None:
        received = b""
        while len(received) < limit and _END_OF_DATA not in received:
            chunk = await self._reader.read(min(65536, limit - len(received)))
            if not chunk:
                break
            received += chunk
        self.hang_up(f"dropped mid-DATA after {len(received)} bytes")


class _JournaledCommands(Mapping[str, Callable[[str | None], Awaitable[None]]]):
    """aiosmtpd's command table with each command journaled, wrapped when looked up rather
    than all fifteen on every connection."""

    def __init__(
        self, session: FaultySMTP, methods: Mapping[str, Callable[[str | None], Awaitable[None]]]
    ) -> None:
        self._session = session
        self._methods = methods

    def __getitem__(self, name: str) -> Callable[[str | None], Awaitable[None]]:
        return self._session._journaled(name, self._methods[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._methods)

    def __len__(self) -> int:
        return len(self._methods)


class PlanHooks:
    """aiosmtpd handler hooks: each asks the session to decide its stage."""

    def __init__(self, core: SessionHost) -> None:
        self.core = core

    def __dir__(self) -> list[str]:
        """Only the hook names aiosmtpd looks for on each connection (see FaultySMTP)."""
        return _names_with_prefix(type(self), ("handle_", "auth_"))

    async def handle_EHLO(
        self,
        server: FaultySMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        server.transaction = _Transaction()
        facts = server.facts(Stage.EHLO)
        decision = await server.decide(facts)
        if decision is not None and isinstance(decision.action.outcome, Reply):
            rendered = await server.send_reply(decision.action.outcome, facts)
            return [rendered or ""]
        return ehlo_lines(responses, server.core.decider.plan.capabilities)

    async def handle_HELO(
        self, server: FaultySMTP, session: Session, envelope: Envelope, hostname: str
    ) -> Any:
        session.host_name = hostname
        server.transaction = _Transaction()
        facts = server.facts(Stage.EHLO)
        decision = await server.decide(facts)
        if decision is not None and isinstance(decision.action.outcome, Reply):
            return await server.send_reply(decision.action.outcome, facts)
        return MISSING

    async def handle_MAIL(
        self,
        server: FaultySMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> Any:
        sender = _plain_sender(address) or ""
        message_id = id_from_address(sender) if sender else None
        key = message_id or sender.lower() or "<>"
        server.transaction = _Transaction(
            message_id=message_id,
            message_attempt=server.core.decider.count_message_attempt(key),
        )  # the attempt counts only once aiosmtpd accepted the command's syntax
        facts = server.facts(Stage.MAIL, sender=sender)
        decision = await server.decide(facts)
        reply = decision.action.outcome if decision is not None else None
        rendered = "250 2.1.0 OK"
        if isinstance(reply, Reply):
            rendered = await server.send_reply(reply, facts) or ""
            if reply.code >= 300:
                return rendered
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return rendered

    async def handle_RCPT(
        self,
        server: FaultySMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> Any:
        sender = _plain_sender(envelope.mail_from) or ""
        if server.transaction.message_id is None and sender == "":
            server.transaction.message_id = id_from_address(address)
        attempt = server.core.decider.count_pair_attempt(sender, address)
        server.transaction.pair_attempts[address.lower()] = attempt
        facts = server.facts(Stage.RCPT, recipients=(address,))
        decision = await server.decide(facts)
        reply = decision.action.outcome if decision is not None else None
        rendered = "250 2.1.5 OK"
        if isinstance(reply, Reply):
            rendered = await server.send_reply(reply, facts) or ""
            if reply.code >= 300:
                return rendered
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return rendered

    async def handle_DATA(self, server: FaultySMTP, session: Session, envelope: Envelope) -> Any:
        server._stage = Stage.EOD
        content: bytes = envelope.original_content or b""
        transaction = server.transaction
        sender = _plain_sender(envelope.mail_from) or ""
        if transaction.message_id is None:
            transaction.message_id = id_from_content(content)
        facts = server.facts(Stage.EOD)
        decision = server.choose(facts)
        keep = decision is not None and decision.action.keep_message
        # A committing server stores the message before it stalls or dies (RFC 1047's case):
        # whatever the sender does while it waits, the receiver already holds the message.
        number = await self._store(server, envelope, content, sender) if keep else None
        if decision is not None:
            await server.act(decision)
            if number is None and decision.action.stall and server.client_gave_up():
                # Not committed, and the client stopped waiting during the stall: a server
                # that commits only as it replies has nothing to reply to, and keeps nothing.
                server.hang_up("the client gave up during the stall; nothing was stored")
        outcome = decision.action.outcome if decision is not None else None
        if isinstance(outcome, Drop):  # only after-dot gets here
            if number is not None:
                server.hang_up(f"stored message {number}, then dropped without a reply")
            server.hang_up(f"dropped after end-of-data, {len(content)} bytes read, no reply")
        if isinstance(outcome, Reply) and outcome.code >= 300:
            return await server.send_reply(outcome, facts)
        if number is None:
            number = await self._store(server, envelope, content, sender)
        if isinstance(outcome, Reply):
            return await server.send_reply(outcome, facts)
        return f"250 2.0.0 OK queued as {number}"

    async def _store(
        self, server: FaultySMTP, envelope: Envelope, content: bytes, sender: str
    ) -> int:
        """Store the message durably (the journal has it once this returns); its number."""
        transaction = server.transaction
        dsn_for = None
        if sender == "":
            dsn_for = id_from_content(content) or transaction.message_id
        number, durable = server.core.journal.record_message(
            server.session_id,
            message_id=None if sender == "" else transaction.message_id,
            mail_from=sender,
            rcpt_tos=envelope.rcpt_tos,
            dsn_for=dsn_for,
            content=content,
        )
        await asyncio.wrap_future(durable)
        return number

    async def handle_QUIT(self, server: FaultySMTP, session: Session, envelope: Envelope) -> Any:
        facts = server.facts(Stage.QUIT)
        decision = await server.decide(facts)
        if decision is not None and isinstance(decision.action.outcome, Reply):
            return await server.send_reply(decision.action.outcome, facts)
        return MISSING

    async def handle_exception(self, error: Exception) -> str:
        """A bug in the receiver must fail the run, not pass as a remote 4xx: keep it, then 451."""
        self.core.report_error(error)
        return f"451 4.3.0 mailstorm receiver error: {type(error).__name__}"


_NAMES_WITH_PREFIX: dict[tuple[type, tuple[str, ...]], list[str]] = {}


def _end_at_eof(
    readuntil: Callable[[bytes], Awaitable[bytes]],
) -> Callable[[bytes], Awaitable[bytes]]:
    """`readuntil` that ends the session, rather than raising an error, when the client's
    side is closed and no whole line is left: everything it sent has been answered."""

    async def read(separator: bytes = b"\n") -> bytes:
        try:
            return await readuntil(separator)
        except asyncio.IncompleteReadError:
            raise _Hangup("the client closed its side and everything was answered") from None

    return read


def _names_with_prefix(cls: type, prefixes: tuple[str, ...]) -> list[str]:
    """The names in dir(cls) that start with one of `prefixes`, computed once per class."""
    key = (cls, prefixes)
    names = _NAMES_WITH_PREFIX.get(key)
    if names is None:
        names = _NAMES_WITH_PREFIX[key] = [n for n in dir(cls) if n.startswith(prefixes)]
    return names


# aiosmtpd calls inspect.signature on the EHLO hook for every connection; give it the answer.
PlanHooks.handle_EHLO.__signature__ = inspect.signature(PlanHooks.handle_EHLO)  # type: ignore[attr-defined]


def _plain_sender(address: str | None) -> str | None:
    """aiosmtpd reports the null reverse-path as '<>'; the journal and the plan use ''."""
    if address is None:
        return None
    return "" if address in ("<>", "") else address


def _template_fields(facts: Facts) -> dict[str, str]:
    return {
        "sender": facts.sender or "",
        "recipient": facts.recipients[-1] if facts.recipients else "",
        "client": facts.client,
        "helo": facts.helo,
    }
