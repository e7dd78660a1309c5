"""Running the receiver: its asyncio core, in a background thread or in the foreground.

`ReceiverCore` binds the listeners and owns the decider and the journal writer on one event
loop. `Receiver` drives a core from a background thread so tests and harness code can use it as a
context manager; errors raised in that thread are kept and re-raised in the caller's thread
(a receiver bug must fail the test, not look like a remote fault). `serve` runs a core in the
foreground until SIGINT or SIGTERM, for `mailstorm receiver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from harness.errors import ListenError, ReceiverError
from harness.receiver.decider import Decider
from harness.receiver.journal import Journal
from harness.receiver.journal_writer import JournalWriter
from harness.receiver.listeners import BoundListener, ListenSpec
from harness.receiver.plan import ACCEPT_ALL, FaultPlan
from harness.receiver.reuseport import (
    GroupMembership,
    enable_reuse_port,
    group_problems,
    steer_by_client_address,
)
from harness.receiver.session import FaultySMTP, PlanHooks

DEFAULT_HOSTNAME = "mailstorm.test"
#: Idle timeout in wall seconds (RFC 5321 4.5.3.2.7 asks servers for at least 5 minutes).
DEFAULT_IDLE_TIMEOUT = 300.0
DEFAULT_DATA_SIZE_LIMIT = 50 * 1024 * 1024
#: Wall seconds stop() waits for aborted sessions to report that they ended.
STOP_TIMEOUT = 5.0


class ReceiverCore:
    """Listeners, plan state and journal, living on one asyncio event loop."""

    def __init__(
        self,
        plan: FaultPlan,
        journal: JournalWriter,
        *,
        time_scale: float = 1.0,
        hostname: str = DEFAULT_HOSTNAME,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        data_size_limit: int = DEFAULT_DATA_SIZE_LIMIT,
        group: GroupMembership | None = None,
    ) -> None:
        if group is not None and (problems := group_problems(plan, group.balance)):
            raise ListenError(
                f"plan {plan.name!r} keeps state that {group.processes} processes with "
                f"{group.balance} balance would split: {'; '.join(problems)}"
            )
        self.group = group
        self.decider = Decider(
            plan,
            time_scale=time_scale,
            stream_salt=group.stream_salt if group is not None else "",
        )
        self.plan_hooks = PlanHooks(self)  # one for all sessions: aiosmtpd inspects it per session
        self.journal = journal
        self.hostname = hostname
        self.idle_timeout = idle_timeout
        self.data_size_limit = data_size_limit
        self.errors: list[BaseException] = []
        self.listeners: list[BoundListener] = []
        self.sessions: set[FaultySMTP] = set()
        self._servers: list[asyncio.Server] = []
        self._refusing: list[tuple[socket.socket, BoundListener]] = []  #: connections refused
        #: listener name -> real seconds until which it refuses (math.inf: for ever)
        self._refuse_until: dict[str, float] = {}
        self._opening: list[asyncio.TimerHandle] = []
        self.loop: asyncio.AbstractEventLoop  # set by start(), before any session exists
        self.idle: asyncio.Event  # set while no session is open

    def report_error(self, error: BaseException) -> None:
        self.errors.append(error)

    def session_opened(self, session: FaultySMTP) -> None:
        self.sessions.add(session)
        self.decider.open_sessions += 1
        per_client = self.decider.client_sessions
        per_client[session.client] = per_client.get(session.client, 0) + 1
        self.idle.clear()

    def session_closed(self, session: FaultySMTP) -> None:
        self.sessions.discard(session)
        self.decider.open_sessions -= 1
        per_client = self.decider.client_sessions
        left = per_client.get(session.client, 0) - 1
        if left > 0:
            per_client[session.client] = left
        else:
            per_client.pop(session.client, None)
        if not self.sessions:
            self.idle.set()

    async def start(
        self,
        specs: Sequence[ListenSpec],
        *,
        refuse_until: float | None = None,
        refusals: Mapping[str, float] | None = None,
        windows_from_reset: bool = False,
    ) -> list[BoundListener]:
        """Bind every listener, or none: a failure closes those already bound.

        With `refuse_until` (real seconds; `math.inf`: for ever) the ports are bound but not
        listening until then, so the kernel refuses connections (RST), as when the SMTP service
        is down but the host is up; then they open. `refusals` does the same per listener
        (name -> until): one MX host refuses while its neighbour answers. With
        `windows_from_reset` the refusal windows start at the first `restart_plan`, not now.
        """
        self.loop = asyncio.get_running_loop()
        self.loop.set_exception_handler(self._loop_exception)
        self.idle = asyncio.Event()
        self.idle.set()
        try:
            for position, spec in enumerate(specs):
                self._bind(spec, spec.name or ("primary" if position == 0 else f"l{position}"))
            names = {listener.name for listener in self.listeners}
            unknown = sorted(set(refusals or {}) - names)
            if unknown:
                raise ListenError(
                    f"refusal for no listener: {', '.join(unknown)} "
                    f"(listeners: {', '.join(sorted(names))})"
                )
            self._refuse_until = {
                name: until
                for name in names
                if (until := (refusals or {}).get(name, refuse_until or 0.0)) > 0
            }
            if windows_from_reset:
                self.decider.reset(None)  # the windows' timers start at the first reset
            else:
                self.restart_plan()
            await self._open(lambda name: name not in self._refuse_until)
        except BaseException:
            await self.stop()
            raise
        return self.listeners

    def _bind(self, spec: ListenSpec, name: str) -> tuple[socket.socket, BoundListener]:
        sock = bind_socket(spec, reuse_port=self.group is not None)
        host, port = sock.getsockname()[:2]
        listener = BoundListener(name=name, host=str(host), port=int(port))
        self.listeners.append(listener)
        self._refusing.append((sock, listener))  # until it listens; stop() closes it if never
        return sock, listener

    def restart_plan(self, plan: FaultPlan | None = None) -> None:
        """Start the plan over from now, including a refusal window that has not ended yet."""
        self.decider.reset(plan)
        for handle in self._opening:
            handle.cancel()
        self._opening = []
        waiting = {listener.name for _, listener in self._refusing}
        for until in sorted({u for n, u in self._refuse_until.items() if n in waiting}):
            if math.isinf(until):
                continue

            delay = self.decider.wall_seconds(until)
            self._opening.append(self.loop.call_later(delay, self._open_at, until))

    def _open_at(self, until: float) -> None:
        """Open the listeners whose refusal ends at `until` or before."""
        self.loop.create_task(self._open(lambda name: self._refuse_until.get(name, 0.0) <= until))

    async def _open(self, due: Callable[[str], bool]) -> None:
        """Start listening on the bound sockets whose listener is `due`."""
        opening = [(sock, listener) for sock, listener in self._refusing if due(listener.name)]
        for sock, listener in opening:
            self._refusing.remove((sock, listener))

            def protocol(listener: BoundListener = listener) -> FaultySMTP:
                return FaultySMTP(self, listener)

            self._servers.append(await self.loop.create_server(protocol, sock=sock, backlog=1024))
            if self.group is not None and self.group.balance == "client":
                steer_by_client_address(sock, self.group.processes)

    async def stop(self) -> None:
        """Stop listening, hang up open sessions, and wait for them to finish."""
        for server in self._servers:
            server.close()
        for handle in self._opening:
            handle.cancel()
        for sock, _ in self._refusing:
            sock.close()
        self._refusing.clear()
        for session in list(self.sessions):
            session.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        # Aborted transports report connection_lost on a later loop turn; the loop must not
        # close before every session has ended, or their transports leak.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), STOP_TIMEOUT)

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, ConnectionError):
            return  # a client that vanished is the client's business, and the journal's
        self.report_error(
            error if error is not None else ReceiverError(str(context.get("message")))
        )


def bind_socket(spec: ListenSpec, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound (not listening) to `spec`, or a one-line ListenError saying why not.
    With `reuse_port`, other sockets of this user may bind the same address (a receiver
    group's members, and the port its supervisor reserves for them)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            spec.host, spec.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise ListenError(_bind_problem(spec, error)) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            enable_reuse_port(sock)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise ListenError(_bind_problem(spec, error)) from None
    return sock


def _bind_problem(spec: ListenSpec, error: OSError) -> str:
    where = f"{spec.host}:{spec.port}"
    if error.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is already in use (pick another, or port 0)"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: no such address on this machine"
    if error.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need root)"
    if isinstance(error, socket.gaierror):
        return f"cannot listen on {where}: unknown host {spec.host!r}"
    return f"cannot listen on {where}: {error.strerror or error}"


class Receiver:
    """The controllable SMTP receiver, running in a background thread.

    Use it as a context manager; `listeners` tells the bound ports. The journal is written to
    `journal` (a temporary file when not given, kept after stop so it can still be read).
    `refuse_until` (real seconds, `math.inf` for ever) keeps the ports closed (connections
    refused) until then; `refusals` (listener name -> real seconds) does so per listener. The
    windows count from the start, or with `windows_from_reset` from the first `reset()`: a
    matrix case's receiver starts minutes before its first message (every target of the run
    starts first), and a window counted from then had ended before the message was sent
    (measured: Exim's `outage-72h-refused` at k = 1440 delivered its first message at once
    when nine columns took over 3 minutes to start; a refusal that has ended cannot be
    restarted, its port already listens).
    """

    def __init__(
        self,
        plan: FaultPlan = ACCEPT_ALL,
        *,
        listen: Iterable[str | ListenSpec] = ("127.0.0.1:0",),
        journal: str | Path | None = None,
        time_scale: float = 1.0,
        hostname: str = DEFAULT_HOSTNAME,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        overwrite_journal: bool = False,
        refuse_until: float | None = None,
        refusals: Mapping[str, float] | None = None,
        windows_from_reset: bool = False,
    ) -> None:
        self.plan = plan
        self.refuse_until = refuse_until
        self.refusals = dict(refusals or {})
        self.windows_from_reset = windows_from_reset
        self.specs = [
            spec if isinstance(spec, ListenSpec) else ListenSpec.parse(spec) for spec in listen
        ]
        if not self.specs:
            raise ListenError("the receiver needs at least one listen address")
        if journal is None:
            journal = Path(tempfile.mkdtemp(prefix="mailstorm-journal-")) / "journal.sqlite"
        self.journal_path = Path(journal)
        self.time_scale = time_scale
        self.hostname = hostname
        self.idle_timeout = idle_timeout
        self.overwrite_journal = overwrite_journal
        self.listeners: list[BoundListener] = []
        self._core: ReceiverCore | None = None
        self._writer: JournalWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        """Open the journal, bind all listeners and serve; tears everything down if any fails."""
        if self._thread is not None:
            raise ReceiverError("receiver already started")
        try:
            self._writer = JournalWriter(
                self.journal_path, meta=self._meta(), overwrite=self.overwrite_journal
            )
            self._loop = new_event_loop()
            self._core = ReceiverCore(
                self.plan,
                self._writer,
                time_scale=self.time_scale,
                hostname=self.hostname,
                idle_timeout=self.idle_timeout,
            )
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="mailstorm-receiver", daemon=True
            )
            self._thread.start()
            self.listeners = self._call(
                self._core.start(
                    self.specs,
                    refuse_until=self.refuse_until,
                    refusals=self.refusals,
                    windows_from_reset=self.windows_from_reset,
                )
            )
        except BaseException:
            self._teardown()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, flush the journal, and raise any error the server thread collected."""
        self._teardown()
        self.check_errors()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._teardown()
        if exc is None:
            self.check_errors()

    def _teardown(self) -> None:
        if self._core is not None and self._thread is not None and self._thread.is_alive():
            self._call(self._core.stop())
        if self._loop is not None:
            if self._thread is not None and self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join()
            self._loop.close()
            self._loop = None
        self._thread = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _call(self, coroutine: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _run_in_loop(self, function: Callable[[], Any]) -> Any:
        assert self._loop is not None
        done: Future[Any] = Future()

        def run() -> None:
            try:
                done.set_result(function())
            except BaseException as error:
                done.set_exception(error)

        self._loop.call_soon_threadsafe(run)
        return done.result()

    def _meta(self) -> dict[str, str]:
        return {**self.plan.journal_meta(self.time_scale), "hostname": self.hostname}

    # -- use --------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._first().host

    @property
    def port(self) -> int:
        return self._first().port

    def _first(self) -> BoundListener:
        if not self.listeners:
            raise ReceiverError("receiver is not started")
        return self.listeners[0]

    def listener(self, name: str) -> BoundListener:
        for bound in self.listeners:
            if bound.name == name:
                return bound
        raise ReceiverError(
            f"no listener named {name!r} (have: {', '.join(b.name for b in self.listeners)})"
        )

    @property
    def open_sessions(self) -> int:
        core = self._require_core()
        return int(self._run_in_loop(lambda: core.decider.open_sessions))

    def use_plan(self, plan: FaultPlan) -> None:
        """Switch to another plan and start it over: counters reset, elapsed time from now."""
        core = self._require_core()
        self.plan = plan
        self._run_in_loop(lambda: core.restart_plan(plan))

    def reset(self) -> None:
        """Start the current plan over (attempt counters, greylist, elapsed time, and a
        refusal window still running, which then lasts from now)."""
        self.use_plan(self.plan)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no session is open (all closed and journaled), at most `timeout` s."""
        core = self._require_core()
        try:
            self._call(asyncio.wait_for(core.idle.wait(), timeout))
        except TimeoutError:
            raise ReceiverError(
                f"{core.decider.open_sessions} session(s) still open after {timeout}s"
            ) from None
        self.flush()

    def flush(self) -> None:
        """Wait until everything the receiver did so far is committed to the journal."""
        if self._writer is not None:
            self._writer.flush()

    def journal(self) -> Journal:
        """A reader over the journal, flushed first; close it (or use `with`) when done."""
        self.flush()
        return Journal(self.journal_path)

    def check_errors(self) -> None:
        """Raise the errors the server thread collected (a receiver bug), if any."""
        if self._core is not None and self._core.errors:
            errors = list(self._core.errors)
            self._core.errors.clear()
            summary = "; ".join(f"{type(error).__name__}: {error}" for error in errors)
            raise ReceiverError(f"the receiver failed while serving: {summary}") from errors[0]

    def _require_core(self) -> ReceiverCore:
        if self._core is None or self._thread is None:
            raise ReceiverError("receiver is not started")
        return self._core


def serve(
    plan: FaultPlan,
    specs: Sequence[ListenSpec],
    journal: JournalWriter,
    *,
    time_scale: float = 1.0,
    on_ready: Callable[[list[BoundListener]], None] = lambda listeners: None,
    group: GroupMembership | None = None,
) -> ReceiverCore:
    """Serve in the foreground until SIGINT or SIGTERM; then stop and return the core.

    With `group` this process is one of several sharing the ports (`harness.receiver.reuseport`).
    """

    async def main() -> ReceiverCore:
        core = ReceiverCore(plan, journal, time_scale=time_scale, group=group)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        on_ready(await core.start(specs))
        await stopping.wait()
        await core.stop()
        return core

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main())


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (about a fifth faster here), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # optional: the stock loop is correct, only slower
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
