"""`mailstorm bench load`: SMTP sessions per second that Locust worker processes sustain.

Three loads against one `smtp-sink` in one run: Postfix's `smtp-source` (the yardstick), one
Locust worker process, then two (each run as a master and its workers, as in distributed
mode; the master only coordinates). Every load sends N messages of S body bytes over P
sessions per process, a fresh connection per message. The Locust side runs the herd
locustfile with a flat-out curve (every message due at once) and its own SMTP client
(`load/smtp_session.py`), reporting each phase to Locust's stats as in a herd run.

A Locust rate is N over the wall time from the first session's start to the last message's
settlement across its workers (their records; process start-up is not counted, as it is not
for `smtp-source`, which starts in a millisecond). The benchmark checks its work: smtp-sink's
counter must grow by exactly N for each load, and Locust's records and stats must show N
delivered messages with no failure.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from harness.bench.postfix_tools import PostfixTools, find_postfix_tools
from harness.bench.receiver_bench import (
    BenchConfig,
    MachineInfo,
    MachineRecord,
    Rate,
    RateRecord,
)
from harness.bench.servers import SmtpSink, run_smtp_source
from harness.errors import BenchError, MailstormError
from harness.herd.run.locust_run import LoadRunConfig, run_locust
from harness.herd.run.source_addresses import parse_source_addresses

DEFAULT_MESSAGES = 20_000
DEFAULT_SESSIONS = 20
DEFAULT_SIZE = 1024
#: One Locust process should reach this fraction of smtp-source's rate, two processes the other.
TARGET_ONE = 0.25
TARGET_TWO = 0.5
HOST = "127.0.0.1"


def load_bench_config(
    messages: int = DEFAULT_MESSAGES, sessions: int = DEFAULT_SESSIONS, size: int = DEFAULT_SIZE
) -> BenchConfig:
    """The load benchmark's defaults; Locust processes need a minute to start, not seconds."""
    return BenchConfig(messages=messages, sessions=sessions, size=size, slack=60.0)


class LoadResultRecord(TypedDict):
    benchmark: str
    messages: int
    sessions_per_process: int
    size: int
    connection_per_message: bool
    postfix_version: str
    smtp_source: RateRecord
    locust_one_process: RateRecord
    locust_two_processes: RateRecord
    ratio_one: float
    ratio_two: float
    target_one: float
    target_two: float
    meets_target: bool
    #: how many client addresses the Locust users sent from (0: the default one)
    source_addresses: int
    machine: MachineRecord


@dataclass(frozen=True)
class LoadBenchResult:
    config: BenchConfig
    source: Rate
    one: Rate
    two: Rate
    postfix_version: str
    machine: MachineInfo
    #: the client addresses the Locust users sent from (none: the default one)
    source_addresses: tuple[str, ...] = ()

    @property
    def ratio_one(self) -> float:
        return self.one.per_second / self.source.per_second

    @property
    def ratio_two(self) -> float:
        return self.two.per_second / self.source.per_second

    @property
    def meets_target(self) -> bool:
        return self.ratio_one >= TARGET_ONE and self.ratio_two >= TARGET_TWO

    def record(self) -> LoadResultRecord:
        return LoadResultRecord(
            benchmark="load",
            messages=self.config.messages,
            sessions_per_process=self.config.sessions,
            size=self.config.size,
            connection_per_message=True,
            postfix_version=self.postfix_version,
            smtp_source=self.source.record(),
            locust_one_process=self.one.record(),
            locust_two_processes=self.two.record(),
            ratio_one=round(self.ratio_one, 4),
            ratio_two=round(self.ratio_two, 4),
            target_one=TARGET_ONE,
            target_two=TARGET_TWO,
            meets_target=self.meets_target,
            source_addresses=len(self.source_addresses),
            machine=self.machine.record(),
        )

    def report(self) -> str:
        config = self.config
        sources = (
            f", Locust users from {len(self.source_addresses)} client addresses"
            if self.source_addresses
            else ""
        )

        def line(label: str, rate: Rate) -> str:
            return (
                f"{label + ':':<30}{rate.per_second:>9.1f} sessions/s  "
                f"({rate.messages} in {rate.seconds:.2f} s)"
            )

        def verdict(ratio: float, target: float) -> str:
            met = "met" if ratio >= target else "NOT met"
            return f"{ratio:.3f} (target at least {target:g}: {met})"

        return "\n".join(
            [
                f"load benchmark: {config.messages} messages of {config.size} bytes per load, "
                f"{config.sessions} sessions per process, a new connection per message, "
                f"against smtp-sink{sources}",
                self.machine.line(self.postfix_version),
                line("smtp-source", self.source),
                line("locust, 1 worker process", self.one),
                line("locust, 2 worker processes", self.two),
                f"ratio 1 process/smtp-source: {verdict(self.ratio_one, TARGET_ONE)}",
                f"ratio 2 processes/smtp-source: {verdict(self.ratio_two, TARGET_TWO)}",
            ]
        )


def run_load_bench(
    config: BenchConfig,
    *,
    source_addresses: str = "",
    tools: PostfixTools | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> LoadBenchResult:
    """smtp-source, then Locust with one and two worker processes, against one smtp-sink; the
    Locust users bind to `source_addresses` (source_addresses.py syntax, loopback) if given."""
    try:
        addresses = parse_source_addresses(source_addresses)
    except MailstormError as error:
        raise BenchError(f"--source-addresses: {error}") from None
    if tools is None:
        progress("looking for Postfix's smtp-sink and smtp-source")
        tools = find_postfix_tools()
    with SmtpSink(tools, HOST) as sink:
        progress(f"smtp-source: {config.messages} messages")
        seconds = run_smtp_source(
            tools,
            HOST,
            sink.port,
            messages=config.messages,
            sessions=config.sessions,
            size=config.size,
            timeout=config.timeout,
        )
        _expect_sink(sink, config.messages, "smtp-source")
        source = Rate("smtp-source", config.messages, seconds)
        progress(f"smtp-source: {source.per_second:.0f} sessions/s")
        rates = []
        for workers in (1, 2):
            progress(f"locust, {workers} worker process(es): {config.messages} messages")
            before = sink.messages_received()
            rate = _measure_locust(config, sink.port, workers, source_addresses)
            _expect_sink(sink, before + config.messages, f"locust with {workers} worker(s)")
            progress(f"locust, {workers} worker process(es): {rate.per_second:.0f} sessions/s")
            rates.append(rate)
    return LoadBenchResult(
        config=config,
        source=source,
        one=rates[0],
        two=rates[1],
        postfix_version=tools.version,
        machine=MachineInfo.here(),
        source_addresses=addresses,
    )


def _expect_sink(sink: SmtpSink, count: int, what: str) -> None:
    received = sink.wait_for_messages(count)
    if received != count:
        raise BenchError(f"after {what}, smtp-sink counted {received} messages, not {count}")


def _measure_locust(config: BenchConfig, port: int, workers: int, source_addresses: str) -> Rate:
    with tempfile.TemporaryDirectory(prefix="mailstorm-load-bench-") as scratch:
        out = Path(scratch)
        run = LoadRunConfig(
            curve=f"flat-out:{config.messages}:{config.sessions * workers}",
            target=f"{HOST}:{port}",
            time_factor=1.0,
            max_messages=config.messages,
            max_users=config.sessions * workers,
            run_time=config.timeout,
            drain=config.timeout,
            workers=workers,
            message_size=config.size,
            source_addresses=source_addresses,
        )
        run_locust(run, HOST, port, out, lambda line: None)
        return _verified_rate(out, config, workers)


def _verified_rate(out: Path, config: BenchConfig, workers: int) -> Rate:
    records = [json.loads(path.read_text()) for path in sorted(out.glob("herd-worker-*.json"))]
    sources = [record["source"] for record in records if record.get("source")]
    if len(sources) != workers:
        raise BenchError(f"expected {workers} worker records, found {len(sources)} in {out}")
    delivered = sum(int(source["delivered"]) for source in sources)
    attempts = sum(int(source["attempts"]) for source in sources)
    if delivered != config.messages or attempts != config.messages:
        raise BenchError(
            f"locust with {workers} worker(s) delivered {delivered} of {config.messages} "
            f"messages in {attempts} sessions"
        )
    stats = list(csv.DictReader(io.StringIO((out / "locust_stats.csv").read_text())))
    eod = next((row for row in stats if row["Name"] == "eod"), None)
    failures = sum(int(row["Failure Count"]) for row in stats if row["Type"] == "SMTP")
    if eod is None or int(eod["Request Count"]) != config.messages or failures:
        raise BenchError(
            f"locust's stats do not match the load: eod "
            f"{eod['Request Count'] if eod else 'missing'}, {failures} failures"
        )
    first = min(float(source["first_session"]) for source in sources)
    last = max(float(source["last_settled"]) for source in sources)
    return Rate(f"locust x{workers}", config.messages, last - first)
