"""N receiver processes serving the same ports, read back as one journal: `ReceiverGroup`.

The group reserves each port first (a socket bound with `SO_REUSEPORT` that never listens, so a
port 0 becomes a real port and nobody else can take it), then starts N `group_member` processes
that bind it too and listen; the kernel spreads connections over them (`reuseport`). Each writes
its journal under `JOURNAL.parts/` (`p0.sqlite`, its log `p0.log`, ...). `finish()` stops them as
a user would (SIGINT), insists that each exited cleanly, and merges the parts into `JOURNAL`
(`journal_merge`); the parts stay, so nothing is lost if the merge refuses.
"""

from __future__ import annotations

import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from harness.errors import JournalError, ListenError, ReceiverError
from harness.lifecycle import Lifecycle
from harness.python_path import harness_environment
from harness.receiver.journal_merge import JournalMerge, merge_journals
from harness.receiver.listeners import BoundListener, ListenSpec
from harness.receiver.reuseport import Balance
from harness.receiver.server import bind_socket

#: wall seconds for every member to listen on every port, and for one to exit when asked
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
_LISTENING = re.compile(r"^listening (?P<name>[^=]+)=(?P<address>\S+)$")


class ReceiverGroup(Lifecycle):
    """`processes` receiver processes on the same listeners, journaling to `journal` when done."""

    def __init__(
        self,
        specs: Sequence[ListenSpec],
        journal: Path,
        processes: int,
        *,
        scenario: Path | None = None,
        time_scale: float = 1.0,
        balance: Balance = "client",
        overwrite: bool = False,
        python: str = sys.executable,
    ) -> None:
        if processes < 1:
            raise ReceiverError(f"a receiver group needs at least one process, not {processes}")
        if not specs:
            raise ListenError("the receiver needs at least one listen address")
        self.specs = list(specs)
        self.journal = Path(journal)
        self.parts_dir = self.journal.with_name(self.journal.name + ".parts")
        self.processes = processes
        self.scenario = scenario
        self.time_scale = time_scale
        self.balance = balance
        self.overwrite = overwrite
        self.python = python
        self.listeners: list[BoundListener] = []
        self._reserved: list[socket.socket] = []
        self._members: list[subprocess.Popen[str]] = []
        self._lines: list[queue.Queue[str | None]] = []
        self._readers: list[threading.Thread] = []

    @property
    def parts(self) -> list[Path]:
        """The members' journals, in member order."""
        return [self.parts_dir / f"p{member}.sqlite" for member in range(self.processes)]

    def log(self, member: int) -> Path:
        """Where member `member` writes its stderr."""
        return self.parts_dir / f"p{member}.log"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._prepare_paths()
        self.listeners = [self._reserve(position, spec) for position, spec in enumerate(self.specs)]
        for member in range(self.processes):
            self._launch(member)
        for member in range(self.processes):
            self._wait_listening(member)

    def stop(self) -> None:
        """Kill whatever still runs and release the reserved ports; idempotent."""
        for process in self._members:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        for reader in self._readers:
            reader.join(STOP_TIMEOUT)
        self._members, self._readers, self._lines = [], [], []
        for sock in self._reserved:
            sock.close()
        self._reserved = []

    def finish(self) -> JournalMerge:
        """Stop every member with SIGINT, check that each exited 0, merge their journals."""
        for process in self._members:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        failures: list[str] = []
        for member, process in enumerate(self._members):
            try:
                status = process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                status = None
            if status != 0:
                how = "did not stop in time" if status is None else f"exited with status {status}"
                failures.append(f"process {member} {how}: {self._tail(member)}")
        self.stop()
        if failures:
            raise ReceiverError(
                f"the receiver group did not stop cleanly ({'; '.join(failures)}); its "
                f"journals are kept in {self.parts_dir}"
            )
        return merge_journals(
            self.parts,
            self.journal,
            meta={"processes": str(self.processes), "balance": self.balance},
            overwrite=self.overwrite,
        )

    def check_alive(self) -> None:
        """Raise if a member has exited while the group should be serving."""
        for member, process in enumerate(self._members):
            status = process.poll()
            if status is not None:
                raise ReceiverError(
                    f"receiver process {member} of {self.processes} exited with status "
                    f"{status}: {self._tail(member)}"
                )

    # -- start ------------------------------------------------------------------------------

    def _prepare_paths(self) -> None:
        if not self.journal.parent.is_dir():
            raise JournalError(f"{self.journal}: directory {self.journal.parent} does not exist")
        existing = [p for p in (self.journal, self.parts_dir) if p.exists()]
        if existing and not self.overwrite:
            raise JournalError(
                f"{existing[0]}: a journal already exists there; choose another path or "
                "overwrite it"
            )
        if self.parts_dir.exists():
            shutil.rmtree(self.parts_dir)
        self.parts_dir.mkdir()

    def _reserve(self, position: int, spec: ListenSpec) -> BoundListener:
        """Bind (never listen) the spec's address with SO_REUSEPORT: its port is ours now."""
        name = spec.name or ("primary" if position == 0 else f"l{position}")
        sock = bind_socket(spec, reuse_port=True)
        self._reserved.append(sock)
        host, port = sock.getsockname()[:2]
        return BoundListener(name=name, host=str(host), port=int(port))

    def _launch(self, member: int) -> None:
        command = [self.python, "-m", "harness.receiver.group_member"]
        for listener in self.listeners:
            command += ["--listen", str(listener)]
        command += ["--journal", str(self.parts[member])]
        command += ["--member", f"{member}/{self.processes}", "--balance", self.balance]
        command += ["--time-scale", repr(self.time_scale)]
        if self.scenario is not None:
            command += ["--scenario", str(self.scenario)]
        with self.log(member).open("w") as errors:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=harness_environment(),
            )
        self._members.append(process)
        lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        self._lines.append(lines)
        self._readers.append(reader)

    def _wait_listening(self, member: int) -> None:
        expected = {str(listener) for listener in self.listeners}
        deadline = time.monotonic() + READY_TIMEOUT
        while expected and (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines[member].get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise ReceiverError(
                    f"receiver process {member} of {self.processes} exited at start: "
                    f"{self._tail(member)}"
                )
            found = _LISTENING.match(line.strip())
            if found is not None:
                expected.discard(f"{found.group('name')}={found.group('address')}")
        if expected:
            raise ReceiverError(
                f"receiver process {member} did not listen on {', '.join(sorted(expected))} "
                f"within {READY_TIMEOUT:.0f} s: {self._tail(member)}"
            )

    def _tail(self, member: int) -> str:
        try:
            lines = self.log(member).read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        said = [line for line in lines if line.strip()][-3:]
        return " | ".join(said) or "it said nothing"


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)
