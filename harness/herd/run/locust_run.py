"""`mailstorm herd run`: the Locust herd load test, headless, with its reports.

Locust runs in subprocesses (`python -m locust -f <the locustfile of harness.herd.run.load>`),
never in this process:
importing Locust monkey-patches the interpreter with gevent, which the asyncio receiver cannot
live with. The target is the embedded receiver (started here, with an admission-control plan:
`max_sessions` concurrent sessions, then `421 4.7.0` at the greeting) or any SMTP server given
as HOST:PORT; a non-loopback target needs `allow_remote`.

Every run is bounded: new messages by `max_messages`, wall time by `run_time` (Locust's
`--run-time`, enforced by the shape; this process kills Locust if it overruns by a grace
period). The run directory gets Locust's CSV and HTML reports, each Locust process's record
(`herd-*.json`), their logs, and the summary with plots (`harness.herd.run.summary`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from harness.containers.mx_network import MxNetwork
from harness.errors import HerdError, MailstormError
from harness.herd.run.container_workers import ContainerWorkers
from harness.herd.run.curve import ArrivalCurve, curve_from_option
from harness.herd.run.source_addresses import parse_source_addresses
from harness.herd.run.summary import LoadSummary, summarize
from harness.herd.run.target import check_target
from harness.herd.run.worker_image import ensure_worker_image
from harness.ports import free_port
from harness.python_path import harness_environment
from harness.receiver import FaultPlan, Receiver, plan_from_mapping

#: The locustfile: package data of `harness.herd.run.load`, found without importing Locust.
LOCUSTFILE = Path(str(files("harness.herd.run.load") / "locustfile.py"))
HOST = "127.0.0.1"
_GRACE = 60.0  # seconds Locust may overrun its run time (start-up, stopping, reports)
_CONNECT_TIMEOUT = 5.0
_MASTER_ATTEMPTS = 5
_WORKER_WAIT = 30  # seconds the master waits for its workers to connect


class LoadRunError(HerdError):
    """A herd load run could not run: Locust failed, overran, or the target is unusable."""


@dataclass(frozen=True)
class LoadRunConfig:
    curve: str = "demo"
    #: HOST:PORT of the SMTP server to load; None: the embedded receiver.
    target: str | None = None
    allow_remote: bool = False
    #: The embedded receiver's capacity model: sessions above this get 421 at the greeting.
    max_sessions: int = 10
    #: The embedded receiver's time per session (a stall before the end-of-data reply), seconds.
    session_time: float = 0.05
    time_factor: float = 10.0
    volume: float = 1.0
    max_messages: int = 10_000
    max_users: int = 1000
    run_time: float = 180.0
    drain: float = 30.0
    #: 0: one Locust process; N: a master and N worker processes.
    workers: int = 0
    #: Locust's own --processes (0: not given): one locust command forks N workers (-1: per core)
    processes: int = 0
    message_size: int = 1024
    timeout: float = 30.0
    pipelining: bool = True
    #: write every attempt beside each process's record (herd-*.attempts.csv)
    attempt_log: bool = False
    #: recipients are user@stage-N.<domain>
    domain: str = "herd.mailstorm.test"
    #: client addresses the users connect from, one each (source_addresses.py syntax)
    source_addresses: str = ""
    #: the embedded receiver's per-IP limit: sessions from one address above this get 421
    per_ip_sessions: int | None = None
    #: N: a master here and N workers in containers on a bridge of this run (container_workers)
    container_workers: int = 0
    #: client addresses each container worker sends from
    addresses_per_worker: int = 25
    reports: Path = Path("reports")
    run_dir: Path | None = None
    extra_locust_args: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        checks = {
            "max-sessions": self.max_sessions >= 1,
            "time-factor": self.time_factor > 0,
            "volume": self.volume > 0,
            "max-messages": self.max_messages >= 1,
            "max-users": self.max_users >= 1,
            "run-time": self.run_time >= 1,
            "drain": self.drain >= 0,
            "workers": self.workers >= 0,
            "timeout": self.timeout > 0,
            "session-time": self.session_time >= 0,
            "per-ip-sessions": self.per_ip_sessions is None or self.per_ip_sessions >= 1,
            "container-workers": self.container_workers >= 0,
            "processes": self.processes >= -1,
            "addresses-per-worker": self.addresses_per_worker >= 1,
        }
        for name, good in checks.items():
            if not good:
                raise LoadRunError(f"--{name}: out of range")
        if self.processes and (self.workers or self.container_workers):
            raise LoadRunError(
                "--processes forks Locust's workers itself: it does not go together with "
                "--workers or --container-workers"
            )
        if self.container_workers:
            clashes = {
                "--workers": self.workers > 0,
                "--target": self.target is not None,
                "--source-addresses": bool(self.source_addresses),
            }
            for option, given in clashes.items():
                if given:
                    raise LoadRunError(
                        f"--container-workers and {option} do not go together: container "
                        "workers load the embedded receiver on their bridge, from their own "
                        "addresses"
                    )
        try:
            parse_source_addresses(self.source_addresses, allow_remote=self.allow_remote)
        except MailstormError as error:
            raise LoadRunError(f"--source-addresses: {error}") from None


def admission_plan(
    max_sessions: int, session_time: float, per_ip_sessions: int | None = None
) -> FaultPlan:
    """The embedded receiver's capacity model: N concurrent sessions, and with
    `per_ip_sessions` M from one client address, then 421 at greeting; each accepted message
    takes `session_time` seconds before its 250."""
    rules: list[dict[str, object]] = []
    if per_ip_sessions is not None:
        rules.append(
            {
                "name": "per-IP admission control",
                "stage": "greeting",
                "client_sessions_above": per_ip_sessions,
                "reply": "421 4.7.0 too many connections from your address, try again later",
            }
        )
    rules.append(
        {
            "name": "admission control",
            "stage": "greeting",
            "sessions_above": max_sessions,
            "reply": "421 4.7.0 too many connections, try again later",
        }
    )
    if session_time > 0:
        rules.append(
            {"name": "session time", "stage": "eod", "stall": f"{session_time * 1000:g}ms"}
        )
    return plan_from_mapping(
        {"name": f"admission-{max_sessions}", "rule": rules}, source="<herd run>"
    )


@dataclass(frozen=True)
class LoadRunResult:
    run_dir: Path
    summary: LoadSummary
    curve: ArrivalCurve


def run_load(
    config: LoadRunConfig,
    *,
    run_dir: Path,
    progress: Callable[[str], None] = lambda line: None,
) -> LoadRunResult:
    """Run the herd against the target, then summarize it into `run_dir`."""
    curve = curve_from_option(config.curve)  # refuse a bad curve before starting anything
    if not LOCUSTFILE.is_file():
        raise LoadRunError(f"the locustfile is missing: {LOCUSTFILE} (a broken installation)")
    run_dir = run_dir.resolve()  # Locust runs in it: every path it gets must be absolute
    journal_path: Path | None = None
    with contextlib.ExitStack() as stack:
        containers: WorkerContainers | None = None
        listen_host = HOST
        if config.container_workers:
            config = _curve_in_run_dir(config, run_dir)
            progress("herd worker image: finding or building it")
            image = ensure_worker_image()
            network = stack.enter_context(MxNetwork((), ipv6=False))
            containers = WorkerContainers(image, network)
            listen_host = network.gateway4
            progress(
                f"container workers: {config.container_workers} x "
                f"{config.addresses_per_worker} addresses on {network.name} ({network.subnet4}), "
                f"image {image}"
            )
        if config.target is None:
            journal_path = run_dir / "journal.sqlite"
            receiver = stack.enter_context(
                Receiver(
                    admission_plan(
                        config.max_sessions, config.session_time, config.per_ip_sessions
                    ),
                    listen=[f"{listen_host}:0"],
                    journal=journal_path,
                )
            )
            host, port = receiver.host, receiver.port
            per_ip = (
                ""
                if config.per_ip_sessions is None
                else f" or {config.per_ip_sessions} from one address"
            )
            target_label = (
                f"embedded receiver {host}:{port} (421 above {config.max_sessions} sessions"
                f"{per_ip}, {config.session_time * 1000:g} ms per message)"
            )
        else:
            host, port = check_target(config.target, allow_remote=config.allow_remote)
            probe_target(host, port)
            target_label = f"{host}:{port}"
        progress(f"target: {target_label}")
        progress(
            f"curve: {curve.description or curve.source}; time factor {config.time_factor:g}, "
            f"volume {config.volume:g}, at most {config.max_messages} messages, "
            f"{config.run_time:g} s"
        )
        run_locust(config, host, port, run_dir, progress, containers=containers)
    summary = summarize(
        run_dir,
        curve=curve,
        target=target_label,
        journal=journal_path,
    )
    summary.write(run_dir)
    return LoadRunResult(run_dir=run_dir, summary=summary, curve=curve)


def _curve_in_run_dir(config: LoadRunConfig, run_dir: Path) -> LoadRunConfig:
    """The config with a curve file copied into the run directory, the one directory the
    container workers see (at the same path): each worker reads the curve the master names."""
    source = Path(config.curve)
    if not source.is_file():
        return config  # a built-in curve (demo, constant:..., flat-out:...): no file to read
    copy = run_dir / f"curve-input{source.suffix or '.json'}"
    shutil.copyfile(source, copy)
    return dataclasses.replace(config, curve=str(copy))


def probe_target(host: str, port: int) -> None:
    """Raise a one-line LoadRunError unless something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise LoadRunError(f"cannot connect to the target {host}:{port}: {reason}") from None


def locust_arguments(config: LoadRunConfig, host: str, port: int, out: Path) -> list[str]:
    """Locust's options for this run (the part master and single process share)."""
    arguments = [
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        f"{host}:{port}",
        "--run-time",
        f"{math.ceil(config.run_time)}s",
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--html",
        str(out / "locust.html"),
        "--herd-curve",
        config.curve,
        "--herd-time-factor",
        repr(config.time_factor),
        "--herd-volume",
        repr(config.volume),
        "--herd-max-messages",
        str(config.max_messages),
        "--herd-max-users",
        str(config.max_users),
        "--herd-drain",
        repr(config.drain),
        "--herd-message-size",
        str(config.message_size),
        "--herd-timeout",
        repr(config.timeout),
        "--herd-domain",
        config.domain,
        "--herd-source-addresses",
        config.source_addresses,
        "--herd-out",
        str(out),
    ]
    if not config.pipelining:
        arguments.append("--herd-no-pipelining")
    if config.allow_remote or config.container_workers:  # their target is the bridge's gateway
        arguments.append("--herd-allow-remote")
    if config.attempt_log:
        arguments.append("--herd-attempt-log")
    if config.processes:
        arguments += ["--processes", str(config.processes)]
    return [*arguments, *config.extra_locust_args]


def locust_environment() -> dict[str, str]:
    """The Locust processes' environment: this `harness` importable, no update checks.

    The interpreter is this one, so an installed `harness` is found already; from a checkout
    without an install, its root goes first on the path.
    """
    environment = harness_environment()
    environment.setdefault("LOCUST_DISABLE_UPDATE_CHECK", "1")
    return environment


@dataclass(frozen=True)
class WorkerContainers:
    """Where container workers run: their image, and the bridge whose gateway is the master's."""

    image: str
    network: MxNetwork


def run_locust(
    config: LoadRunConfig,
    host: str,
    port: int,
    run_dir: Path,
    progress: Callable[[str], None],
    *,
    containers: WorkerContainers | None = None,
) -> None:
    """Run Locust headless (one process, or a master and `config.workers` workers, or
    `config.container_workers` workers in `containers`) against host:port until it stops by
    itself; its reports and records land in `run_dir`."""
    arguments = locust_arguments(config, host, port, run_dir)
    deadline = config.run_time + _GRACE
    worker_count = config.container_workers if containers is not None else config.workers
    if worker_count == 0:
        progress(
            "locust: one process"
            if not config.processes
            else f"locust: one command with --processes {config.processes}"
        )
        with _spawned([*_LOCUST, *arguments], run_dir / "locust.log") as process:
            _wait(process, deadline, run_dir / "locust.log", "locust")
        return
    bind_host = HOST if containers is None else containers.network.gateway4
    for _attempt in range(_MASTER_ATTEMPTS):
        master_port = free_port(bind_host)
        master_arguments = [
            *arguments,
            "--master",
            "--master-bind-host",
            bind_host,
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(worker_count),
            "--expect-workers-max-wait",
            str(_WORKER_WAIT),
        ]
        where = "in containers" if containers is not None else "processes"
        progress(
            f"locust: a master on {bind_host}:{master_port} and {worker_count} workers ({where})"
        )
        with contextlib.ExitStack() as stack:
            master_log = run_dir / "locust-master.log"
            master = stack.enter_context(_spawned([*_LOCUST, *master_arguments], master_log))
            if containers is not None:
                pool = stack.enter_context(
                    ContainerWorkers(
                        containers.image,
                        containers.network,
                        (bind_host, master_port),
                        workers=worker_count,
                        addresses_per_worker=config.addresses_per_worker,
                        run_dir=run_dir,
                    )
                )
                try:
                    _wait(master, deadline + _WORKER_WAIT, master_log, "the locust master")
                except LoadRunError:
                    if "Address already in use" in _tail(master_log):
                        continue
                    raise
                try:
                    pool.wait(_GRACE)
                except HerdError as error:
                    raise LoadRunError(str(error)) from None
                return
            workers = [
                stack.enter_context(
                    _spawned(
                        [
                            *_LOCUST,
                            "-f",
                            str(LOCUSTFILE),
                            "--worker",
                            "--master-host",
                            HOST,
                            "--master-port",
                            str(master_port),
                            "--loglevel",
                            "WARNING",
                        ],
                        run_dir / f"locust-worker-{index}.log",
                    )
                )
                for index in range(config.workers)
            ]
            try:
                _wait(master, deadline + _WORKER_WAIT, master_log, "the locust master")
            except LoadRunError:
                if "Address already in use" in _tail(master_log):
                    continue  # someone took the port meanwhile: try another
                raise
            for index, worker in enumerate(workers):
                _wait(worker, _GRACE, run_dir / f"locust-worker-{index}.log", "a locust worker")
            return
    raise LoadRunError(f"the locust master could not bind a port in {_MASTER_ATTEMPTS} attempts")


_LOCUST = (sys.executable, "-m", "locust")


@contextlib.contextmanager
def _spawned(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process writing to `log`, killed on the way out if it is still running."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=locust_environment(),
            # The run directory, not the user's: Locust reads locust.conf and pyproject.toml
            # from its working directory, and a user's must not reshape the run.
            cwd=log.parent.resolve(),
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait(process: subprocess.Popen[bytes], timeout: float, log: Path, what: str) -> None:
    started = time.monotonic()
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise LoadRunError(
            f"{what} did not stop within {timeout:.0f} s (killed); log: {log}"
        ) from None
    if status != 0:
        said = _last_error(log)
        raise LoadRunError(
            f"{what} exited with status {status} after {time.monotonic() - started:.1f} s: "
            f"{said} (log: {log})"
        )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _last_error(log: Path) -> str:
    """The most telling line of a failed Locust log: ours first, then any error line."""
    lines = _tail(log, 200).splitlines()
    for marker in ("mailstorm: error:", "Error", "error"):
        found = [line for line in lines if marker in line]
        if found:
            return found[-1].split("mailstorm: error: ", 1)[-1].strip()
    return lines[-1].strip() if lines else "no output"
