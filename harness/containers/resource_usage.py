"""What containers cost the machine while they run: memory and CPU, read from their cgroups.

"As many sender containers as this machine holds" is a measurement, not a guess: a run that
starts N containers samples each one's memory (usage less the page cache the kernel can drop,
as `docker stats` shows it) and CPU time (the cgroup's total), and the host's CPU busy share
from /proc/stat, every `interval` wall seconds in a thread of its own.

The numbers are read from the container's cgroup files (v1: memory/ and cpuacct/ under
docker/<id>; v2: docker-<id>.scope or docker/<id>), which costs microseconds. The engine's
stats call says the same but is slow: measured here, 0.5 to 2 s per container even with
`one_shot`, so a pass over 60 containers took over a minute and the monitor's last pass
held up the end of a run. The engine is asked only when the files are not on this host (a
remote engine). A container that is gone or does not answer is skipped for that sample; a
sample is never invented.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from harness.lifecycle import Lifecycle

#: Wall seconds between two samples.
DEFAULT_INTERVAL = 5.0
_PROC_STAT = Path("/proc/stat")
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PROC_MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class ContainerSample:
    """One container at one instant: memory in bytes, CPU time used since it started (s)."""

    mono: float
    memory: int
    cpu_seconds: float


@dataclass(frozen=True)
class HostSample:
    """The host's CPU busy share since the previous sample (0..1 of all cores)."""

    mono: float
    busy: float


@dataclass(frozen=True)
class HostMemory:
    """The host's memory when the monitor started (bytes), from /proc/meminfo."""

    total: int
    available: int


@dataclass
class ResourceUsage:
    """Every sample of a monitored run, by container label."""

    cores: int
    memory: HostMemory | None
    containers: dict[str, list[ContainerSample]] = field(default_factory=dict)
    host: list[HostSample] = field(default_factory=list)

    def peak_memory(self, label: str) -> int | None:
        samples = self.containers.get(label, [])
        return max((s.memory for s in samples), default=None)

    def cpu_between(self, label: str, start: float, end: float) -> float | None:
        """CPU seconds the container used between two wall monotonic times (the samples
        nearest inside them), or None when fewer than two samples fall inside."""
        ends = self._ends(label, start, end)
        return None if ends is None else ends[1].cpu_seconds - ends[0].cpu_seconds

    def span_between(self, label: str, start: float, end: float) -> float | None:
        """Wall seconds between the first and last sample inside [start, end]."""
        ends = self._ends(label, start, end)
        return None if ends is None else ends[1].mono - ends[0].mono

    def _ends(
        self, label: str, start: float, end: float
    ) -> tuple[ContainerSample, ContainerSample] | None:
        """The first and last of the container's samples inside [start, end], if two are."""
        inside = [s for s in self.containers.get(label, []) if start <= s.mono <= end]
        return (inside[0], inside[-1]) if len(inside) >= 2 else None

    def host_busy(self, start: float, end: float) -> list[float]:
        """The host's busy shares sampled inside [start, end]."""
        return [s.busy for s in self.host if start <= s.mono <= end]


class ResourceMonitor(Lifecycle):
    """Samples `containers` (label -> docker container object) from `start` to `stop`; the
    samples are in `usage`."""

    def __init__(
        self,
        containers: Mapping[str, Any],
        *,
        interval: float = DEFAULT_INTERVAL,
        cores: int | None = None,
    ) -> None:
        self.targets = dict(containers)
        self.interval = interval
        self.usage = ResourceUsage(cores=cores or os.cpu_count() or 1, memory=read_host_memory())
        self._files = {
            label: files
            for label, container in self.targets.items()
            if (files := cgroup_files(str(getattr(container, "id", "")))) is not None
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_stat = _read_cpu_times()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mailstorm-resources", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; a monitor that ran takes one last sample, the state after the run."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self.sample()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        """Take one sample of every container and of the host now."""
        for label, container in self.targets.items():
            taken = sample_container(container, self._files.get(label))
            if taken is not None:
                self.usage.containers.setdefault(label, []).append(taken)
        now_stat = _read_cpu_times()
        if now_stat is not None and self._last_stat is not None:
            busy, total = (now - then for now, then in zip(now_stat, self._last_stat, strict=True))
            if total > 0:
                self.usage.host.append(HostSample(time.monotonic(), busy / total))
        self._last_stat = now_stat


@dataclass(frozen=True)
class CgroupFiles:
    """Where one container's memory and CPU figures are on this host."""

    memory_usage: Path  #: bytes (v1 memory.usage_in_bytes, v2 memory.current)
    memory_stat: Path  #: holds (total_)inactive_file
    cpu: Path  #: v1 cpuacct.usage (ns), v2 cpu.stat (usage_usec)


def cgroup_files(container_id: str, root: Path = _CGROUP_ROOT) -> CgroupFiles | None:
    """The container's cgroup files under `root`, v1 or v2 layout; None when not here."""
    if not container_id:
        return None
    v1_cpu = [root / name / "docker" / container_id for name in ("cpuacct", "cpu,cpuacct")]
    v1_memory = root / "memory" / "docker" / container_id
    for cpu_dir in v1_cpu:
        if (v1_memory / "memory.usage_in_bytes").is_file() and (
            cpu_dir / "cpuacct.usage"
        ).is_file():
            return CgroupFiles(
                v1_memory / "memory.usage_in_bytes",
                v1_memory / "memory.stat",
                cpu_dir / "cpuacct.usage",
            )
    for scope in (
        root / "system.slice" / f"docker-{container_id}.scope",
        root / "docker" / container_id,
    ):
        if (scope / "memory.current").is_file() and (scope / "cpu.stat").is_file():
            return CgroupFiles(scope / "memory.current", scope / "memory.stat", scope / "cpu.stat")
    return None


def read_cgroup(files: CgroupFiles, mono: float) -> ContainerSample | None:
    """One sample from the cgroup files, or None when they are gone (the container ended)."""
    try:
        usage = int(files.memory_usage.read_text().split()[0])
        detail = dict(line.split(maxsplit=1) for line in files.memory_stat.read_text().splitlines())
        cpu_text = files.cpu.read_text()
    except (OSError, ValueError, IndexError):
        return None
    if files.cpu.name == "cpu.stat":
        fields = dict(line.split(maxsplit=1) for line in cpu_text.splitlines() if " " in line)
        cpu_seconds = int(fields.get("usage_usec", "0")) / 1e6
    else:
        cpu_seconds = int(cpu_text.split()[0]) / 1e9
    return ContainerSample(mono, _owned_memory(usage, detail), cpu_seconds)


def sample_container(container: Any, files: CgroupFiles | None = None) -> ContainerSample | None:
    """One sample: from the cgroup files when given, else the engine's `one_shot` stats;
    None when the container is gone or says nothing."""
    if files is not None:
        return read_cgroup(files, time.monotonic())
    try:
        stats = container.stats(stream=False, one_shot=True)
    except (docker.errors.APIError, docker.errors.NotFound, OSError):
        return None
    return container_sample(stats, time.monotonic())


def container_sample(stats: Mapping[str, Any], mono: float) -> ContainerSample | None:
    """A sample from the engine's stats document (cgroup v1 or v2)."""
    memory_stats = stats.get("memory_stats") or {}
    usage = memory_stats.get("usage")
    cpu = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    if usage is None or cpu is None:
        return None
    return ContainerSample(
        mono, _owned_memory(int(usage), memory_stats.get("stats") or {}), int(cpu) / 1e9
    )


def _owned_memory(usage: int, memory_stat: Mapping[str, Any]) -> int:
    """What `docker stats` shows: the usage less the page cache the kernel can drop
    (`total_inactive_file` in cgroup v1's memory.stat, `inactive_file` in v2's)."""
    cache = memory_stat.get("total_inactive_file", memory_stat.get("inactive_file", 0))
    return max(0, usage - int(cache))


def read_host_memory(path: Path = _PROC_MEMINFO) -> HostMemory | None:
    """MemTotal and MemAvailable, or None where there is no /proc/meminfo."""
    try:
        fields = dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
        return HostMemory(
            total=_kib(fields["MemTotal"]) * 1024, available=_kib(fields["MemAvailable"]) * 1024
        )
    except (OSError, KeyError, ValueError):
        return None


def _kib(text: str) -> int:
    return int(text.split()[0])


def _read_cpu_times(path: Path = _PROC_STAT) -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores since boot; idle and iowait are not busy."""
    try:
        first = path.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not first or first[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal; guest time is already in user.
    values = [int(v) for v in first[1:9]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)
