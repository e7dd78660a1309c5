"""pytest plugin: the receiver as fixtures (registered through the `pytest11` entry point).

A thin layer over `harness.receiver.Receiver`, so anything a fixture does can also be done
with the context manager. Configuration precedence: fixture argument > command line > ini.

Fixtures:
- `receiver_plan`: the plan the `receiver` fixture starts with (accept all); override it in a
  test module or conftest to give a module its own plan.
- `receiver`: a started receiver on an ephemeral port, with its journal in `tmp_path`; a receiver
  error fails the test at teardown.
- `receiver_factory`: start more receivers (other plans, several listeners); all are stopped
  at teardown.
- `mailstorm_time_scale`: the run's time scale k (`--mailstorm-time-scale`, ini
  `mailstorm_time_scale`, default 1).
- `receiver_listen_host`: the address receivers bind by default (`--mailstorm-listen-host`,
  default 127.0.0.1; a Docker bridge gateway makes them reachable from containers).
- `container_gateway`: the Docker bridge gateway, where a receiver must listen for sender MTAs
  in containers to reach it (needs a Docker engine).
- `target_factory`: start sender-MTA targets by name with a route table; all are removed at
  teardown, with their logs attached to a failing test's report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from harness.containers import bridge_gateway, docker_client
from harness.containers.session_cleanup import ContainerCleanupPlugin
from harness.receiver import ACCEPT_ALL, FaultPlan, ListenSpec, Receiver
from harness.receiver.server import DEFAULT_IDLE_TIMEOUT
from harness.targets import RouteTable, SenderTarget, target_class

ReceiverFactory = Callable[..., Receiver]
TargetFactory = Callable[..., SenderTarget]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailstorm", "mailstorm SMTP receiver and targets")
    group.addoption(
        "--mailstorm-time-scale",
        type=float,
        default=None,
        metavar="K",
        help="compress real MTA time by K: plan durations last 1/K on the wall clock",
    )
    group.addoption(
        "--mailstorm-listen-host",
        default=None,
        metavar="HOST",
        help="address the receiver fixtures listen on (default 127.0.0.1)",
    )
    group.addoption(
        "--targets",
        dest="mailstorm_targets",
        default=None,
        metavar="LIST",
        help="sender MTAs the conformance suites run (comma-separated, NAME@SUITE for another "
        "Debian suite, 'all' for every version column; default: the bundled ones)",
    )
    group.addoption(
        "--target-dir",
        dest="mailstorm_target_dirs",
        action="append",
        default=None,
        metavar="DIR",
        help="the user's own sender, a folder like a bundled target (docs/user-targets.md); "
        "repeatable; without --targets, only these run",
    )
    group.addoption(
        "--scenarios",
        dest="mailstorm_scenarios",
        default=None,
        metavar="LIST",
        help="scenario ids or globs the conformance suites run (default: the whole catalogue)",
    )
    parser.addini("mailstorm_time_scale", "default time scale K for receiver fixtures", default="1")
    parser.addini(
        "mailstorm_listen_host", "default listen address for receivers", default="127.0.0.1"
    )


def pytest_configure(config: pytest.Config) -> None:
    # Containers of dead runs go at session start, this process's own at the end.
    if not config.pluginmanager.has_plugin(ContainerCleanupPlugin.name):
        config.pluginmanager.register(ContainerCleanupPlugin(), ContainerCleanupPlugin.name)


@pytest.fixture(scope="session")
def mailstorm_time_scale(pytestconfig: pytest.Config) -> float:
    value = pytestconfig.getoption("mailstorm_time_scale")
    if value is None:
        value = float(str(pytestconfig.getini("mailstorm_time_scale")))
    if value <= 0:
        raise pytest.UsageError(f"mailstorm time scale must be > 0, got {value}")
    return float(value)


@pytest.fixture(scope="session")
def receiver_listen_host(pytestconfig: pytest.Config) -> str:
    value = pytestconfig.getoption("mailstorm_listen_host")
    return str(value if value is not None else pytestconfig.getini("mailstorm_listen_host"))


@pytest.fixture
def receiver_plan() -> FaultPlan:
    return ACCEPT_ALL


@pytest.fixture
def receiver_factory(
    tmp_path: Path, mailstorm_time_scale: float, receiver_listen_host: str
) -> Iterator[ReceiverFactory]:
    started: list[Receiver] = []

    def start(
        plan: FaultPlan = ACCEPT_ALL,
        *,
        listen: Iterable[str | ListenSpec] | None = None,
        time_scale: float | None = None,
        idle_timeout: float | None = None,
    ) -> Receiver:
        journal = tmp_path / f"journal-{len(started) + 1}.sqlite"
        receiver = Receiver(
            plan,
            listen=listen if listen is not None else (f"{receiver_listen_host}:0",),
            journal=journal,
            time_scale=time_scale if time_scale is not None else mailstorm_time_scale,
            idle_timeout=idle_timeout if idle_timeout is not None else DEFAULT_IDLE_TIMEOUT,
        )
        receiver.start()
        started.append(receiver)
        return receiver

    yield start
    failures: list[BaseException] = []
    for receiver in reversed(started):
        try:
            receiver.stop()
        except Exception as error:
            failures.append(error)
    if failures:
        raise failures[0]


@pytest.fixture
def receiver(receiver_factory: ReceiverFactory, receiver_plan: FaultPlan) -> Receiver:
    return receiver_factory(receiver_plan)


@pytest.fixture(scope="session")
def container_gateway() -> str:
    client = docker_client()
    try:
        return bridge_gateway(client)
    finally:
        client.close()


@pytest.fixture
def target_factory(
    mailstorm_time_scale: float, request: pytest.FixtureRequest
) -> Iterator[TargetFactory]:
    started: list[SenderTarget] = []

    def start(name: str, routes: RouteTable, *, time_scale: float | None = None) -> SenderTarget:
        scale = time_scale if time_scale is not None else mailstorm_time_scale
        target = target_class(name)(routes, time_scale=scale).start()
        started.append(target)
        return target

    yield start
    failed = getattr(request.node, "mailstorm_call_failed", False)
    for target in reversed(started):
        if failed:
            request.node.add_report_section("call", f"{target.name} log", target.diagnostics())
        target.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if call.when == "call" and getattr(report, "failed", False):
        item.mailstorm_call_failed = True  # type: ignore[attr-defined]
    return report
