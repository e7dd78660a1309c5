"""The processes a benchmark runs: `smtp-sink`, our receiver, and `smtp-source` driving either.

Each server is a context manager that kills its process on the way out, whatever happened, and
waits for readiness by bounded polling (a connection that gets the expected greeting, or the
receiver's own "listening" line), never by sleeping a fixed time. Both servers run as separate
processes so the comparison is fair: neither shares a CPU-bound interpreter with the benchmark.
"""

from __future__ import annotations

import os
import pwd
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from harness.bench.postfix_tools import PostfixTools
from harness.errors import BenchError
from harness.ports import free_port

#: smtp-source's HELO name and envelope; the receiver derives nothing special from them.
CLIENT_NAME = "bench.mailstorm.test"
SENDER = "sender@bench.mailstorm.test"
RECIPIENT = "rcpt@bench.mailstorm.test"
_READY_TIMEOUT = 30.0  # seconds for a server to accept connections after launch
_STOP_TIMEOUT = 30.0  # seconds for a server to exit after being asked to
_PORT_ATTEMPTS = 5  # launches of smtp-sink on a fresh free port before giving up
_POLL = 0.02


def _greeting(host: str, port: int, timeout: float) -> str | None:
    """The first line a server at host:port sends, or None if nothing accepts there yet."""
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as connection,
            connection.makefile("rb") as reader,
        ):
            line = reader.readline(1024).decode("ascii", "replace").strip()
            connection.sendall(b"QUIT\r\n")
            return line
    except OSError:
        return None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines()[-lines:] if line.strip())


def _terminate(process: subprocess.Popen[str] | subprocess.Popen[bytes], how: int) -> None:
    """Ask with signal `how`, then kill if it does not exit in time; always reap it."""
    if process.poll() is None:
        process.send_signal(how)
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class SmtpSink:
    """Postfix's `smtp-sink` on an ephemeral port, counting what it receives (`-c`).

    smtp-sink takes a port number, not 0, so we pick a free port just before launching it and
    retry on another when it loses the race for it. Its greeting carries a random host name, so
    the readiness probe knows it reached this sink and not whatever else took the port.
    """

    def __init__(self, tools: PostfixTools, host: str = "127.0.0.1", backlog: int = 1024) -> None:
        self.tools = tools
        self.host = host
        self.backlog = backlog
        self.port = 0
        self.name = f"sink-{secrets.token_hex(4)}.mailstorm.test"
        self._dir = tempfile.TemporaryDirectory(prefix="mailstorm-sink-")
        self.output = Path(self._dir.name) / "smtp-sink.out"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        try:
            for _ in range(_PORT_ATTEMPTS):
                if self._launch(free_port(self.host)):
                    return self
            raise BenchError(
                f"smtp-sink could not bind a free port on {self.host} in {_PORT_ATTEMPTS} "
                f"attempts: {_tail(self.output)}"
            )
        except BaseException:
            self.stop()
            raise

    def _launch(self, port: int) -> bool:
        """Start smtp-sink on `port`; False when the port was taken meanwhile (try another)."""
        command = [str(self.tools.smtp_sink), "-c", "-h", self.name]
        if os.geteuid() == 0:  # smtp-sink refuses to run as root without dropping privileges
            command += ["-u", _unprivileged_user()]
        command += [f"{self.host}:{port}", str(self.backlog)]
        with self.output.open("wb") as output:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.tools.environ(),
            )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                said = _tail(self.output)
                self._process = None
                if "in use" in said:
                    return False
                raise BenchError(f"smtp-sink exited at start: {said or 'no message'}")
            greeting = _greeting(self.host, port, timeout=1.0)
            if greeting is not None:
                if self.name not in greeting:
                    self.stop()
                    return False  # someone else answers on that port
                self.port = port
                return True
            time.sleep(_POLL)
        raise BenchError(
            f"smtp-sink did not accept connections within {_READY_TIMEOUT:.0f} s: "
            f"{_tail(self.output) or 'it said nothing'}"
        )

    def messages_received(self) -> int:
        """How many messages (final dots) smtp-sink has counted so far."""
        counts = re.findall(r"mesg=(\d+)", _tail(self.output, lines=3))
        return int(counts[-1]) if counts else 0

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> int:
        """Poll the counters until they reach `count` (they lag the last reply a little)."""
        deadline = time.monotonic() + timeout
        while (received := self.messages_received()) < count and time.monotonic() < deadline:
            time.sleep(_POLL)
        return received

    def stop(self) -> None:
        if self._process is not None:
            _terminate(self._process, signal.SIGTERM)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._dir.cleanup()


def _unprivileged_user() -> str:
    for name in ("nobody", "daemon"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise BenchError("smtp-sink must drop root privileges, but there is no 'nobody' user here")


#: Runs `mailstorm` with this interpreter, whether or not its console script is on PATH.
_MAILSTORM = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"
_LISTENING = re.compile(r"^listening bench=(?P<host>.+):(?P<port>\d+)$")


class ReceiverProcess:
    """`mailstorm receiver` in a subprocess, journaling to `journal`, on an ephemeral port.

    With `processes` above 1 it is a group of receiver processes sharing the port, whose
    journals are merged into `journal` when it stops.

    A subprocess, like smtp-sink, so the benchmark's own Python does not share its event loop or
    its GIL. It prints "listening bench=HOST:PORT" when ready; stopping it with SIGINT makes it
    commit its journal and exit 0, which `stop` checks.
    """

    def __init__(
        self,
        journal: Path,
        host: str = "127.0.0.1",
        *,
        processes: int = 1,
        python: str = sys.executable,
    ) -> None:
        self.journal = journal
        self.host = host
        self.processes = processes
        self.port = 0
        self.python = python
        self._dir = tempfile.TemporaryDirectory(prefix="mailstorm-receiver-")
        self.errors = Path(self._dir.name) / "stderr"
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise BenchError("the receiver is not running")
        return self._process.pid

    def start(self) -> Self:
        command = [self.python, "-c", _MAILSTORM, "receiver"]
        command += ["--listen", f"bench={self.host}:0", "--journal", str(self.journal)]
        if self.processes > 1:  # one client address (smtp-source's): spread by connection
            command += ["--processes", str(self.processes), "--balance", "connection"]
        try:
            with self.errors.open("w") as errors:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    text=True,
                )
            assert self._process.stdout is not None
            self._reader = threading.Thread(
                target=_read_lines, args=(self._process.stdout, self._lines), daemon=True
            )
            self._reader.start()
            self.port = self._wait_listening()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_listening(self) -> int:
        deadline = time.monotonic() + _READY_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise BenchError(f"the receiver exited at start: {_tail(self.errors)}")
            found = _LISTENING.match(line.strip())
            if found is not None:
                return int(found.group("port"))
        raise BenchError(
            f"the receiver did not start listening within {_READY_TIMEOUT:.0f} s: "
            f"{_tail(self.errors) or 'it said nothing on stderr'}"
        )

    def stop(self) -> None:
        """Stop it as a user would (SIGINT) and insist that it shut down cleanly."""
        status = self._end(signal.SIGINT)
        if status not in (None, 0):
            raise BenchError(
                f"the receiver exited with status {status}: {_tail(self.errors) or 'no message'}"
            )

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def _end(self, how: int) -> int | None:
        """Signal, reap, and release the output pipe; the exit status, None if not running."""
        process, self._process = self._process, None
        if process is None:
            return None
        _terminate(process, how)
        if self._reader is not None:
            self._reader.join(_STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.stop()
        finally:
            self.kill()
            self._dir.cleanup()


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_smtp_source(
    tools: PostfixTools,
    host: str,
    port: int,
    *,
    messages: int,
    sessions: int,
    size: int,
    timeout: float,
) -> float:
    """Send `messages` messages of `size` body bytes over `sessions` parallel sessions, one
    message per connection (smtp-source reconnects for each unless given -d); return the seconds
    it took. smtp-source exits non-zero at the first unexpected reply, so success means every
    message got its 250."""
    command = [str(tools.smtp_source), "-s", str(sessions), "-m", str(messages), "-l", str(size)]
    command += ["-M", CLIENT_NAME, "-f", SENDER, "-t", RECIPIENT, f"{host}:{port}"]
    started = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=tools.environ(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(
            f"smtp-source did not finish {messages} messages to {host}:{port} within "
            f"{timeout:.0f} s"
        ) from None
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise BenchError(
            f"smtp-source failed against {host}:{port} (status {result.returncode}): "
            f"{said[-1] if said else 'no message'}"
        )
    return elapsed
