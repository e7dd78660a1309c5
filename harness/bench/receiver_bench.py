"""`mailstorm bench receiver`: our receiver's throughput against Postfix's `smtp-sink`.

Both servers get the same load from the same client in the same run: `smtp-source` sending N
messages of S body bytes over P parallel sessions, a fresh connection for every message. The
receiver runs as `mailstorm receiver` with its journal on, and acknowledges each message only
after committing it, as it always does; smtp-sink throws messages away. The ratio of the two
rates says how much headroom the receiver leaves a sender under test (target: at least half).

A benchmark that does not check its work can lie, so both counts are verified afterwards:
smtp-sink's own counters must show N messages, and the receiver's journal must hold N messages
of at least S bytes, each in a session of its own.
"""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from harness.bench.postfix_tools import PostfixTools, find_postfix_tools
from harness.bench.servers import ReceiverProcess, SmtpSink, run_smtp_source
from harness.errors import BenchError
from harness.receiver import Journal

#: About 10 s on a 2-core machine at ~1000 msgs/s for the receiver (smtp-sink takes ~1 s).
DEFAULT_MESSAGES = 10_000
DEFAULT_SESSIONS = 20
DEFAULT_SIZE = 1024
#: The receiver should sustain at least this fraction of smtp-sink's rate.
TARGET_RATIO = 0.5
#: The slowest rate (msgs/s) we wait for before calling a run stuck; bounds every run in time.
_SLOWEST_RATE = 50.0
HOST = "127.0.0.1"


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark's load: N messages of S body bytes over P sessions (per process)."""

    messages: int = DEFAULT_MESSAGES
    sessions: int = DEFAULT_SESSIONS
    size: int = DEFAULT_SIZE
    #: seconds of start-up allowed on top of N messages at the slowest rate we wait for
    slack: float = 30.0

    def __post_init__(self) -> None:
        for name in ("messages", "sessions", "size"):
            if getattr(self, name) < 1:
                raise BenchError(f"{name} must be at least 1, not {getattr(self, name)}")

    @property
    def timeout(self) -> float:
        """Seconds one load may take before it counts as stuck."""
        return self.slack + self.messages / _SLOWEST_RATE


@dataclass(frozen=True)
class Rate:
    """One server's measurement: `messages` delivered in `seconds` of wall time."""

    server: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("inf")

    def record(self) -> RateRecord:
        return RateRecord(
            server=self.server,
            messages=self.messages,
            seconds=round(self.seconds, 4),
            messages_per_second=round(self.per_second, 1),
        )


@dataclass(frozen=True)
class MachineInfo:
    cores: int
    usable_cores: int
    cpu: str
    system: str
    python: str

    @classmethod
    def here(cls) -> MachineInfo:
        return cls(
            cores=os.cpu_count() or 1,
            usable_cores=len(os.sched_getaffinity(0)),
            cpu=_cpu_model(),
            system=platform.platform(),
            python=platform.python_version(),
        )

    def record(self) -> MachineRecord:
        return MachineRecord(
            cores=self.cores,
            usable_cores=self.usable_cores,
            cpu=self.cpu,
            system=self.system,
            python=self.python,
        )

    def line(self, postfix_version: str) -> str:
        """The report's `machine:` line: what the rates were measured on."""
        return (
            f"machine: {self.cores} cores ({self.usable_cores} usable), {self.cpu}; "
            f"{self.system}; Python {self.python}; Postfix {postfix_version}"
        )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class RateRecord(TypedDict):
    server: str
    messages: int
    seconds: float
    messages_per_second: float


class MachineRecord(TypedDict):
    cores: int
    usable_cores: int
    cpu: str
    system: str
    python: str


class ReceiverRateRecord(TypedDict):
    processes: int
    server: str
    messages: int
    seconds: float
    messages_per_second: float
    ratio: float


class ResultRecord(TypedDict):
    """The JSON that `--json FILE` writes; `receiver` and `ratio` are the first process count's."""

    benchmark: str
    messages: int
    sessions: int
    size: int
    connection_per_message: bool
    postfix_version: str
    smtp_sink: RateRecord
    receiver: RateRecord
    ratio: float
    receivers: list[ReceiverRateRecord]
    best_ratio: float
    target_ratio: float
    meets_target: bool
    machine: MachineRecord


@dataclass(frozen=True)
class ReceiverRate:
    """The receiver's rate when served by `processes` processes sharing the port."""

    processes: int
    rate: Rate

    @property
    def label(self) -> str:
        many = f", {self.processes} processes" if self.processes > 1 else ""
        return f"mailstorm receiver (journal on{many})"


@dataclass(frozen=True)
class ReceiverBenchResult:
    config: BenchConfig
    sink: Rate
    receivers: tuple[ReceiverRate, ...]
    postfix_version: str
    machine: MachineInfo

    @property
    def receiver(self) -> Rate:
        """The first measured receiver (one process by default)."""
        return self.receivers[0].rate

    def ratio_of(self, receiver: ReceiverRate) -> float:
        """Receiver rate over smtp-sink rate: 1.0 would be as fast as smtp-sink."""
        return receiver.rate.per_second / self.sink.per_second

    @property
    def ratio(self) -> float:
        return self.ratio_of(self.receivers[0])

    @property
    def best_ratio(self) -> float:
        return max(self.ratio_of(receiver) for receiver in self.receivers)

    @property
    def meets_target(self) -> bool:
        return self.best_ratio >= TARGET_RATIO

    def record(self) -> ResultRecord:
        return ResultRecord(
            benchmark="receiver",
            messages=self.config.messages,
            sessions=self.config.sessions,
            size=self.config.size,
            connection_per_message=True,
            postfix_version=self.postfix_version,
            smtp_sink=self.sink.record(),
            receiver=self.receiver.record(),
            ratio=round(self.ratio, 4),
            receivers=[
                ReceiverRateRecord(
                    processes=receiver.processes,
                    **receiver.rate.record(),
                    ratio=round(self.ratio_of(receiver), 4),
                )
                for receiver in self.receivers
            ],
            best_ratio=round(self.best_ratio, 4),
            target_ratio=TARGET_RATIO,
            meets_target=self.meets_target,
            machine=self.machine.record(),
        )

    def report(self) -> str:
        """The human-readable result, one fact per line."""
        config = self.config
        verdict = "met" if self.meets_target else "NOT met"
        lines = [
            f"receiver benchmark: {config.messages} messages of {config.size} bytes, "
            f"{config.sessions} parallel sessions, a new connection per message",
            self.machine.line(self.postfix_version),
            _rate_line("smtp-sink", self.sink),
        ]
        for receiver in self.receivers:
            lines.append(_rate_line(receiver.label, receiver.rate))
        for receiver in self.receivers:
            processes = f" ({receiver.processes} processes)" if receiver.processes > 1 else ""
            lines.append(f"ratio receiver/smtp-sink{processes}: {self.ratio_of(receiver):.3f}")
        lines.append(f"target at least {TARGET_RATIO:g}: {verdict}")
        return "\n".join(lines)


def _rate_line(label: str, rate: Rate) -> str:
    return (
        f"{label + ':':<48}{rate.per_second:>9.1f} msgs/s  "
        f"({rate.messages} in {rate.seconds:.2f} s)"
    )


def run_receiver_bench(
    config: BenchConfig,
    *,
    processes: Sequence[int] = (1, 2),
    tools: PostfixTools | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> ReceiverBenchResult:
    """Measure smtp-sink, then the receiver with each process count, under the same
    smtp-source load; verify every count."""
    if not processes or min(processes) < 1:
        raise BenchError(f"process counts must be at least 1, not {list(processes)}")
    if tools is None:
        progress("looking for Postfix's smtp-sink and smtp-source")
        tools = find_postfix_tools()
    progress(f"smtp-sink: {config.messages} messages")
    sink = _measure_sink(tools, config)
    progress(f"smtp-sink: {sink.per_second:.0f} msgs/s")
    receivers: list[ReceiverRate] = []
    for count in processes:
        progress(f"mailstorm receiver, {count} process(es): {config.messages} messages")
        receivers.append(ReceiverRate(count, _measure_receiver(tools, config, count)))
        progress(
            f"mailstorm receiver, {count} process(es): {receivers[-1].rate.per_second:.0f} msgs/s"
        )
    return ReceiverBenchResult(
        config=config,
        sink=sink,
        receivers=tuple(receivers),
        postfix_version=tools.version,
        machine=MachineInfo.here(),
    )


def _measure_sink(tools: PostfixTools, config: BenchConfig) -> Rate:
    with SmtpSink(tools, HOST) as sink:
        seconds = _drive(tools, sink.port, config)
        received = sink.wait_for_messages(config.messages)
    if received != config.messages:
        raise BenchError(
            f"smtp-source reported success, but smtp-sink counted {received} of "
            f"{config.messages} messages"
        )
    return Rate("smtp-sink", config.messages, seconds)


def _measure_receiver(tools: PostfixTools, config: BenchConfig, processes: int) -> Rate:
    """One smtp-source client address: more than one process must balance by connection."""
    with tempfile.TemporaryDirectory(prefix="mailstorm-bench-") as scratch:
        journal = Path(scratch) / "journal.sqlite"
        with ReceiverProcess(journal, HOST, processes=processes) as receiver:
            seconds = _drive(tools, receiver.port, config)
        verify_journal(journal, config)
    return Rate("mailstorm receiver", config.messages, seconds)


def _drive(tools: PostfixTools, port: int, config: BenchConfig) -> float:
    return run_smtp_source(
        tools,
        HOST,
        port,
        messages=config.messages,
        sessions=config.sessions,
        size=config.size,
        timeout=config.timeout,
    )


def verify_journal(path: Path, config: BenchConfig) -> None:
    """Raise unless the journal holds exactly the load: N messages, each whole, one per session.

    Every message was acknowledged only after its commit, so a shortfall here is a receiver
    bug (or a load that was not what we think), and the measured rate would mean nothing.
    """
    with Journal(path) as journal:
        messages = journal.messages()
        sessions = journal.sessions()
    problems: list[str] = []
    if len(messages) != config.messages:
        problems.append(f"{len(messages)} messages instead of {config.messages}")
    short = [message.id for message in messages if message.size < config.size]
    if short:
        problems.append(f"{len(short)} messages shorter than {config.size} bytes")
    if len({message.session_id for message in messages}) != len(messages):
        problems.append("some sessions carried more than one message")
    if len(sessions) != config.messages:
        problems.append(f"{len(sessions)} sessions instead of one per message")
    if problems:
        raise BenchError(f"the receiver's journal does not match the load: {'; '.join(problems)}")
