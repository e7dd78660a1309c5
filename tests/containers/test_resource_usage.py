"""A container's memory and CPU, read from its cgroup files, agree with what the engine says,
and the monitor notices the CPU a container burns."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker.models.containers import Container

from harness.containers.labels import run_labels
from harness.containers.resource_usage import (
    ContainerSample,
    ResourceMonitor,
    cgroup_files,
    container_sample,
    read_cgroup,
)
from tests.containers.conftest import StartContainer

pytestmark = pytest.mark.docker


def test_the_cgroup_files_say_what_the_engine_says(start_container: StartContainer) -> None:
    container = start_container(run_labels())
    files = cgroup_files(container.id or "")
    assert files is not None, "this host's Docker cgroups were not found (v1 or v2 layout)"
    # The engine reads the same cgroup: a reading of the files taken between two of the
    # engine's lies between them for CPU time (a running total), and within their range for
    # memory (the container may still be settling after its start).
    before = _engine_sample(container)
    from_files = read_cgroup(files, 0.0)
    after = _engine_sample(container)
    assert before is not None
    assert from_files is not None
    assert after is not None
    assert before.cpu_seconds <= from_files.cpu_seconds <= after.cpu_seconds
    slack = 64 * 1024
    low, high = sorted((before.memory, after.memory))
    assert low - slack <= from_files.memory <= high + slack


def _engine_sample(container: Container) -> ContainerSample | None:
    stats = container.stats(stream=False, one_shot=True)
    assert isinstance(stats, dict)
    return container_sample(stats, 0.0)


def test_the_monitor_sees_cpu_burnt_and_stops_sampling_a_gone_container(
    start_container: StartContainer,
) -> None:
    busy = start_container(run_labels())
    idle = start_container(run_labels())
    monitor = ResourceMonitor({"busy": busy, "idle": idle}, interval=3600)
    monitor.sample()
    # A known amount of work: the shell counts to 300 000, then exits.
    result = busy.exec_run(["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
    assert result.exit_code == 0
    monitor.sample()
    idle.remove(force=True)
    monitor.sample()
    monitor.stop()
    usage = monitor.usage
    burnt = usage.cpu_between("busy", 0.0, float("inf"))
    slept = usage.cpu_between("idle", 0.0, float("inf"))
    assert burnt is not None
    assert slept is not None
    assert burnt > 0.05, "the busy container's loop did not show in its CPU time"
    assert slept < burnt / 5
    assert len(usage.containers["idle"]) == 2, "a removed container must not be sampled"
    assert len(usage.containers["busy"]) == 3  # never started: no last sample at stop


def test_no_cgroup_files_for_an_unknown_container(tmp_path: Path) -> None:
    assert cgroup_files("0" * 64) is None
    assert cgroup_files("") is None
    assert cgroup_files("abc", root=tmp_path) is None
