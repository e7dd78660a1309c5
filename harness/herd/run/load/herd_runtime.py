"""Per-process state of a herd run: options, this process's share, its message source, and
the records written at the end.

Created by the locustfile's `init` listener and kept on the environment (`runtime_of`). Every
test start (headless, or each Start in the web UI) reads the options again and builds a new
source, so options edited in the web UI take effect.

Distributed mode: at test start the master sends every connected worker its share (index and
count, by sorted client id) before the first spawn message; a worker paces messages
i with i mod count == index of every curve stream, so the workers together replay the curve
once. A worker whose messages are all settled tells the master (`herd_done`); the shape stops
the run when every worker has.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from harness.errors import MailstormError
from harness.herd.run.curve import ArrivalCurve, Pacer, WorkerShare
from harness.herd.run.load.arrival_curve import CURVE_OPTION_HELP, DEFAULT, curve_from_option
from harness.herd.run.load.message_source import ATTEMPT_FIELDS, Attempt, MessageSource
from harness.herd.run.source_addresses import SourcePool, parse_source_addresses
from harness.herd.run.target import check_target

logger = logging.getLogger("mailstorm.herd")

SHARE_MESSAGE = "herd_share"
DONE_MESSAGE = "herd_done"
_ATTRIBUTE = "mailstorm_herd"


def add_arguments(parser: Any) -> None:
    """Our options, on Locust's command line and in its web UI's custom parameters."""
    group = parser  # Locust's web UI flags (include_in_web_ui) work only on the parser itself
    group.add_argument(
        "--herd-curve",
        default=DEFAULT,
        help=f"arrival curve: {CURVE_OPTION_HELP}",
    )
    group.add_argument(
        "--herd-time-factor",
        type=float,
        default=1.0,
        help="compress the curve's time by this factor (retry backoffs too); reported",
    )
    group.add_argument(
        "--herd-volume",
        type=float,
        default=1.0,
        help="fraction of the curve's messages to send (0 < V <= 1; more multiplies them)",
    )
    group.add_argument(
        "--herd-max-messages",
        type=int,
        default=10_000,
        help="cap on new messages (first attempts) in the whole run",
    )
    group.add_argument(
        "--herd-max-users", type=int, default=1000, help="cap on connection slots (users)"
    )
    group.add_argument(
        "--herd-drain",
        type=float,
        default=30.0,
        help="wall seconds after the curve's end to let retries drain before stopping",
    )
    group.add_argument("--herd-message-size", type=int, default=1024, help="body bytes")
    group.add_argument(
        "--herd-timeout", type=float, default=30.0, help="seconds each SMTP phase may take"
    )
    group.add_argument(
        "--herd-no-pipelining",
        action="store_true",
        default=False,
        help="never pipeline MAIL/RCPT/DATA, even when the server offers PIPELINING",
    )
    group.add_argument(
        "--herd-allow-remote",
        action="store_true",
        default=False,
        help="allow a target that is not a loopback address",
    )
    group.add_argument(
        "--herd-source-addresses",
        default="",
        help="client addresses to connect from, one per user (127.0.0.2-127.0.0.51, a CIDR, "
        "or a comma list): a herd from many hosts, as per-IP limits see it",
    )
    group.add_argument(
        "--herd-domain",
        default="herd.mailstorm.test",
        help="recipients are user@stage-N.DOMAIN (the target must accept those subdomains)",
    )
    group.add_argument(
        "--herd-attempt-log",
        action="store_true",
        default=False,
        help="write every attempt (message, number, release, take, outcome) beside the record",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--herd-out",
        default="",
        help="directory for each process's record (herd-<role>-<index>.json)",
        include_in_web_ui=False,
    )


@dataclass(frozen=True)
class HerdSettings:
    curve_option: str
    time_factor: float
    volume: float
    max_messages: int
    max_users: int
    drain: float
    message_size: int
    timeout: float
    pipelining: bool
    allow_remote: bool
    out: str
    domain: str = "herd.mailstorm.test"
    attempt_log: bool = False
    source_addresses: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: Any) -> HerdSettings:
        settings = cls(
            curve_option=str(getattr(options, "herd_curve", DEFAULT)),
            time_factor=float(getattr(options, "herd_time_factor", 1.0)),
            volume=float(getattr(options, "herd_volume", 1.0)),
            max_messages=int(getattr(options, "herd_max_messages", 10_000)),
            max_users=int(getattr(options, "herd_max_users", 1000)),
            drain=float(getattr(options, "herd_drain", 30.0)),
            message_size=int(getattr(options, "herd_message_size", 1024)),
            timeout=float(getattr(options, "herd_timeout", 30.0)),
            pipelining=not getattr(options, "herd_no_pipelining", False),
            allow_remote=bool(getattr(options, "herd_allow_remote", False)),
            out=str(getattr(options, "herd_out", "") or ""),
            domain=str(getattr(options, "herd_domain", "") or "herd.mailstorm.test"),
            attempt_log=bool(getattr(options, "herd_attempt_log", False)),
            source_addresses=parse_source_addresses(
                str(getattr(options, "herd_source_addresses", "") or ""),
                allow_remote=bool(getattr(options, "herd_allow_remote", False)),
            ),
        )
        for name in ("time_factor", "volume", "timeout"):
            if getattr(settings, name) <= 0:
                raise MailstormError(f"--herd-{name.replace('_', '-')} must be positive")
        if settings.max_messages < 0 or settings.max_users < 1:
            raise MailstormError("--herd-max-messages must be >= 0 and --herd-max-users >= 1")
        return settings


class HerdRuntime:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.settings = HerdSettings.from_options(environment.parsed_options)
        self.curve: ArrivalCurve = curve_from_option(self.settings.curve_option)
        self.share = WorkerShare()
        self.source: MessageSource | None = None
        self.address: tuple[str, int] | None = None
        #: the client addresses this process's users connect from, one each in turn
        self.sources = SourcePool(self.settings.source_addresses)
        self.workers_total = 1
        self.workers_done: set[int] = set()
        self.shape_ticks: list[dict[str, float]] = []
        self.stop_reason = ""
        self.started = 0.0
        self.error: str | None = None
        self._watcher: gevent.Greenlet[Any, Any] | None = None
        events = environment.events
        events.test_start.add_listener(self._on_test_start)
        events.test_stop.add_listener(self._on_test_stop)
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(DONE_MESSAGE, self._on_worker_done)
        elif isinstance(runner, WorkerRunner):
            runner.register_message(SHARE_MESSAGE, self._on_share)

    # -- roles ------------------------------------------------------------------------------

    @property
    def role(self) -> str:
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            return "master"
        if isinstance(runner, WorkerRunner):
            return "worker"
        return "local"

    def all_done(self) -> bool:
        """Every message of every process settled and nothing more to come."""
        if isinstance(self.environment.runner, MasterRunner):
            return len(self.workers_done) >= self.workers_total
        return self.source is not None and self.source.finished

    # -- events -----------------------------------------------------------------------------

    def _on_test_start(self, environment: Environment, **_: Any) -> None:
        self.shape_ticks = []
        self.stop_reason = ""
        self.error = None
        self.source = None
        self.started = time.time()
        try:
            self._start(environment)
        except MailstormError as error:
            self.fail(str(error))

    def fail(self, problem: str) -> None:
        """Stop the run for a reason the user must fix; the process exits with status 2."""
        logger.error("mailstorm: error: %s", problem)
        self.error = self.stop_reason = problem
        self.environment.process_exit_code = 2
        runner = self.environment.runner
        if runner is not None:
            gevent.spawn(runner.quit)

    def _start(self, environment: Environment) -> None:
        self.settings = HerdSettings.from_options(environment.parsed_options)
        self.curve = curve_from_option(self.settings.curve_option)
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            self.workers_done = set()
            connected = runner.clients.ready + runner.clients.spawning + runner.clients.running
            clients = sorted(client.id for client in connected)
            self.workers_total = len(clients)
            for index, client_id in enumerate(clients):
                runner.send_message(
                    SHARE_MESSAGE, {"index": index, "count": len(clients)}, client_id
                )
            logger.info("herd: %d workers share the curve", len(clients))
            return
        self.address = check_target(environment.host or "", allow_remote=self.settings.allow_remote)
        self.sources = SourcePool.for_process(self.settings.source_addresses, os.environ)
        pacer = Pacer(
            self.curve,
            time_factor=self.settings.time_factor,
            volume=self.settings.volume,
            share=self.share,
            max_messages=self.settings.max_messages,
        )
        self.source = MessageSource(
            self.curve,
            pacer,
            time_factor=self.settings.time_factor,
            message_size=self.settings.message_size,
            domain=self.settings.domain,
            attempt_log=self.settings.attempt_log,
        )
        self.source.start()
        if isinstance(runner, WorkerRunner):
            self._watcher = gevent.spawn(self._report_done, self.source)
        logger.info(
            "herd: %s share %d/%d of %s, time factor %g, volume %g, cap %s messages",
            self.role,
            self.share.index,
            self.share.count,
            self.curve.source,
            self.settings.time_factor,
            self.settings.volume,
            pacer.cap,
        )

    def _on_share(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.share = WorkerShare(int(msg.data["index"]), int(msg.data["count"]))

    def _on_worker_done(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.workers_done.add(int(msg.data["index"]))

    def _report_done(self, source: MessageSource) -> None:
        while not source.finished:
            gevent.sleep(0.1)
        runner = self.environment.runner
        assert runner is not None
        runner.send_message(DONE_MESSAGE, {"index": self.share.index})

    def _on_test_stop(self, environment: Environment, **_: Any) -> None:
        if self._watcher is not None:
            self._watcher.kill(block=False)
            self._watcher = None
        if self.source is not None:
            self.source.stop()
        self.write_record()

    # -- records ----------------------------------------------------------------------------

    def write_record(self) -> None:
        if not self.settings.out:
            return
        directory = Path(self.settings.out)
        directory.mkdir(parents=True, exist_ok=True)
        runner = self.environment.runner
        record: dict[str, Any] = {
            "role": self.role,
            "pid": os.getpid(),
            "written": time.time(),
            "started": self.started,
            "share": {"index": self.share.index, "count": self.share.count},
            "settings": asdict(self.settings),
            "curve": {
                "source": self.curve.source,
                "description": self.curve.description,
                "end": self.curve.end,
                "total_messages": self.curve.total_messages,
                "classes": [policy.name for policy in self.curve.classes],
            },
            "target": list(self.address) if self.address else self.environment.host,
            "source": self.source.record() if self.source is not None else None,
            "shape": self.shape_ticks if not isinstance(runner, WorkerRunner) else None,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "workers": self.workers_total if isinstance(runner, MasterRunner) else None,
        }
        index = self.share.index if isinstance(runner, WorkerRunner) else 0
        path = directory / f"herd-{self.role}-{index}.json"
        if self.source is not None and self.source.attempts is not None:
            write_attempts(path.with_suffix(".attempts.csv"), self.source.attempts)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(path)


def write_attempts(path: Path, attempts: list[Attempt]) -> None:
    """The attempt log as CSV, one row per session (wall times: seconds since the source's
    start; the record's `start_mono` turns them into the system's monotonic clock)."""
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(ATTEMPT_FIELDS)
        for attempt in attempts:
            writer.writerow(astuple(attempt))
    temporary.replace(path)


def runtime_of(environment: Environment) -> HerdRuntime:
    runtime = getattr(environment, _ATTRIBUTE, None)
    if runtime is None:
        raise MailstormError(
            "the herd runtime is not set up (run the herd locustfile: mailstorm herd locustfile)"
        )
    assert isinstance(runtime, HerdRuntime)
    return runtime


def install(environment: Environment) -> HerdRuntime:
    runtime = HerdRuntime(environment)
    setattr(environment, _ATTRIBUTE, runtime)
    return runtime


__all__ = ["HerdRuntime", "HerdSettings", "LocalRunner", "add_arguments", "install", "runtime_of"]
