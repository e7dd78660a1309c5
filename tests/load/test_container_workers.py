"""Locust workers in containers, each a sending host with addresses of its own, and the
master on this machine: the multi-host path of Locust's distributed engine."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import HerdError
from harness.herd.run.container_workers import worker_addresses
from harness.herd.run.locust_run import LoadRunConfig, LoadRunError, run_load
from tests.load.conftest import curve_document, records


def test_each_worker_gets_its_own_block_of_the_lower_half() -> None:
    blocks = worker_addresses("172.30.7.0/24", 2, 3)
    assert blocks == [
        ["172.30.7.2", "172.30.7.3", "172.30.7.4"],
        ["172.30.7.5", "172.30.7.6", "172.30.7.7"],
    ]
    assert worker_addresses("172.30.7.0/24", 1, 126)[0][-1] == "172.30.7.127"
    with pytest.raises(HerdError, match="has 126 for them"):
        worker_addresses("172.30.7.0/24", 2, 64)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 2}, "--container-workers and --workers"),
        ({"target": "127.0.0.1:25"}, "--container-workers and --target"),
        ({"source_addresses": "127.0.0.2"}, "--container-workers and --source-addresses"),
        ({"processes": 2}, "--processes forks Locust's workers itself"),
    ],
)
def test_container_workers_refuse_options_they_replace(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(LoadRunError, match=message):
        LoadRunConfig(container_workers=2, **options)  # type: ignore[arg-type]


@pytest.mark.docker
@pytest.mark.slow
def test_two_worker_containers_send_from_50_addresses_against_a_per_ip_limit(
    write_curve: Callable[..., Path], tmp_path: Path
) -> None:
    """Two containers with 25 addresses each; the embedded receiver, with one session per
    address, sees exactly those 50 hosts, and every message gets through."""
    curve = write_curve(curve_document([(0.0, 100.0), (2.0, 100.0)], concurrency=60))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_load(
        LoadRunConfig(
            curve=str(curve),
            time_factor=1.0,
            max_sessions=1000,
            session_time=0.05,
            per_ip_sessions=1,
            container_workers=2,
            addresses_per_worker=25,
            run_time=60,
        ),
        run_dir=run_dir,
    )
    found = records(run_dir)
    assert set(found) == {"herd-master-0", "herd-worker-0", "herd-worker-1"}
    receiver = result.summary.receiver
    assert receiver is not None
    clients = receiver["clients"]
    assert len(clients) == 50
    subnets = {ipaddress.ip_network(f"{address}/24", strict=False) for address in clients}
    assert len(subnets) == 1  # one bridge of this run
    offsets = sorted(int(ipaddress.ip_address(a)) & 0xFF for a in clients)
    assert offsets == list(range(2, 52))  # the two workers' blocks, nothing else
    assert result.summary.delivered == result.summary.offered == 200
    assert sum(row["messages"] for row in clients.values()) == 200
    for index in (0, 1):
        assert (run_dir / f"locust-worker-container-{index}.log").is_file()
