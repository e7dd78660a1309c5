"""What a reopen run cost the machine, and where the model parts from the measurement: the
arithmetic over samples and measurements (the real run's are checked in test_reopen.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.containers.resource_usage import (
    ContainerSample,
    HostMemory,
    HostSample,
    ResourceUsage,
    container_sample,
    read_host_memory,
)
from harness.herd.model.sender_classes import postfix_default
from harness.herd.reopen.experiment import ReopenError, ReopenExperiment
from harness.herd.reopen.machine import CPU_BUDGET, machine_load
from harness.herd.reopen.measure import Measurement, SenderLoad
from harness.herd.reopen.model import sender_classes
from harness.herd.reopen.phase import mta_phases
from harness.herd.reopen.senders import SenderMix

MIB = 1024 * 1024


def test_a_sample_leaves_out_the_page_cache_the_kernel_can_drop() -> None:
    v1 = {
        "memory_stats": {"usage": 50 * MIB, "stats": {"total_inactive_file": 20 * MIB}},
        "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
    }
    v2 = {
        "memory_stats": {"usage": 50 * MIB, "stats": {"inactive_file": 10 * MIB}},
        "cpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000}},
    }
    assert container_sample(v1, 1.0) == ContainerSample(1.0, 30 * MIB, 2.5)
    assert container_sample(v2, 2.0) == ContainerSample(2.0, 40 * MIB, 1.0)
    # A container that has stopped answers with empty stats: no sample, never a zero.
    assert container_sample({"memory_stats": {}, "cpu_stats": {}}, 3.0) is None


def test_host_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       2048 kB\nMemFree:  100 kB\nMemAvailable:   1024 kB\n")
    assert read_host_memory(meminfo) == HostMemory(total=2048 * 1024, available=1024 * 1024)
    assert read_host_memory(tmp_path / "absent") is None


def _usage() -> ResourceUsage:
    """Two Postfix and one Exim container sampled at 0, 10 (outage) and 20 s (herd)."""
    usage = ResourceUsage(
        cores=2, memory=HostMemory(total=8 * 1024 * MIB, available=4 * 1024 * MIB)
    )
    cpu = {"p1": (0.0, 1.0, 6.0), "p2": (0.0, 1.0, 4.0), "e1": (0.0, 0.5, 0.5)}
    memory = {"p1": (40, 48, 60), "p2": (40, 44, 52), "e1": (10, 12, 12)}
    for label in cpu:
        usage.containers[label] = [
            ContainerSample(t, memory[label][i] * MIB, cpu[label][i])
            for i, t in enumerate((0.0, 10.0, 20.0))
        ]
    usage.host = [HostSample(10.0, 0.2), HostSample(15.0, 0.7), HostSample(20.0, 0.9)]
    return usage


def test_machine_load_gives_cost_per_mta_and_both_bounds() -> None:
    load = machine_load(
        _usage(),
        mtas={"p1": "postfix", "p2": "postfix", "e1": "exim"},
        ready={"p1": 6.0, "p2": 5.0, "e1": 3.0},
        outage=(0.0, 10.0),
        herd=(10.0, 20.0),
    )
    postfix, exim = load.costs
    assert (postfix.mta, postfix.containers, postfix.sampled) == ("postfix", 2, 2)
    assert postfix.peak_memory == pytest.approx(56 * MIB)
    assert postfix.max_memory == 60 * MIB
    assert postfix.outage_cpu == pytest.approx(0.1)  # 1 CPU second in 10 wall seconds
    assert postfix.herd_cpu == pytest.approx(0.4)  # (5 + 3) / 2 in 10 s
    assert postfix.ready_seconds == pytest.approx(5.5)
    assert exim.outage_cpu == pytest.approx(0.05)
    assert exim.herd_cpu == pytest.approx(0.0)
    # Memory: 4 GiB over the mean peak of (60, 52, 12) MiB.
    assert load.memory_bound == int(4 * 1024 / ((60 + 52 + 12) / 3))
    # CPU: the mix queues at (0.1 + 0.1 + 0.05) / 3 of a core per container.
    assert load.cpu_bound == int(CPU_BUDGET * 2 / (0.25 / 3))
    assert load.host_busy_outage == pytest.approx((0.2, 0.2))
    assert load.host_busy_herd == pytest.approx((0.6, 0.9))
    assert load.samples == 9


def test_a_container_never_sampled_twice_in_a_phase_has_no_cpu_figure() -> None:
    usage = _usage()
    usage.containers["e1"] = usage.containers["e1"][:1]
    load = machine_load(
        usage,
        mtas={"p1": "postfix", "p2": "postfix", "e1": "exim"},
        ready={},
        outage=(0.0, 10.0),
        herd=(10.0, 20.0),
    )
    assert load.costs[1].outage_cpu is None
    assert load.cpu_bound is None, "a bound from part of the mix would flatter it"
    assert load.costs[0].ready_seconds is None


def _measurement(
    senders: list[SenderLoad], accepted_by_mta: dict[str, tuple[int, ...]]
) -> Measurement:
    starts = (-300.0, 0.0, 300.0, 600.0)
    return Measurement(
        bin_seconds=300.0,
        bin_starts=starts,
        connections=(0,) * 4,
        attempts=(0,) * 4,
        offered=(0,) * 4,
        accepted=(0,) * 4,
        accepted_by_mta=accepted_by_mta,
        peak_concurrency=0,
        peak_served=0,
        peak_connection_rate=0.0,
        served_session_seconds=None,
        refused_sessions=0,
        senders=tuple(senders),
        injected=0,
        injected_late=0,
        delivered=0,
        duplicates=(),
        still_queued=0,
        lost=0,
        accepted_before_reopen=0,
        drain_time=None,
        observed_until=900.0,
        sessions=(),
    )


def test_phase_shows_the_first_delivery_window_and_the_busiest_bin() -> None:
    senders = [
        SenderLoad("exim-1", "exim", 10, 10, 2, 1, 0, 5, 310.0, 320.0),
        SenderLoad("exim-2", "exim", 10, 10, 2, 1, 0, 7, 312.0, 330.0),
        SenderLoad("postfix-1", "postfix", 10, 10, 10, 3, 0, 30, 1.0, 700.0),
    ]
    measurement = _measurement(senders, {"exim": (0, 0, 20, 0), "postfix": (0, 4, 3, 3)})
    classes = sender_classes(SenderMix.parse("exim=2,postfix=1"))
    model = {"exim": (0.01, 0.01), "postfix": (0.03, 0.01)}
    ready = {"exim-1": 700.0, "exim-2": 460.0, "postfix-1": 100.0}
    exim, postfix = mta_phases(measurement, classes, model, ready)
    assert exim.containers == 2
    assert exim.ready_spread == pytest.approx(240.0)
    assert exim.outage_sessions == (5, 7)
    assert exim.first == (310.0, 312.0)
    assert exim.last == (320.0, 330.0)
    assert exim.anchor == "destination"
    assert exim.busiest_share == pytest.approx(1.0)
    assert exim.model_busiest_share == pytest.approx(0.5)
    assert postfix.first == (1.0, 1.0)
    assert postfix.ready_spread == 0.0
    assert postfix.busiest_share == pytest.approx(0.4)
    assert postfix.model_busiest_share == pytest.approx(0.75)
    assert postfix.scan_interval == postfix_default().scan_interval


def test_the_model_takes_a_measured_class_over_the_documented_one() -> None:
    measured = postfix_default().__class__(
        name="postfix",
        retry_offsets=(600.0,),
        backoff=None,
        give_up=86400.0,
        share=0.0,
        evidence="measured",
        source="measured: test",
    )
    postfix, exim = sender_classes(SenderMix.parse("postfix=3,exim=1"), [measured])
    assert (postfix.evidence, postfix.retry_offsets, postfix.hosts) == ("measured", (600.0,), 3)
    assert postfix.share == pytest.approx(0.75)
    assert exim.evidence == "documented"


def test_an_mta_the_model_has_no_class_for_is_refused_before_any_container(
    tmp_path: Path,
) -> None:
    with pytest.raises(ReopenError, match=r"no documented class for .msmtp.*--schedules"):
        ReopenExperiment(SenderMix.parse("postfix=1,msmtp=1"), tmp_path)


def test_a_rcpt_deferral_puts_exim_on_a_schedule_per_message() -> None:
    """Exim keys a 4xx to RCPT on the address and sender (transports/smtp.c), a host error on
    the host: the reopen experiment's 451 outage is the former."""
    mix = SenderMix.parse("exim=1,postfix=1")
    exim, postfix = sender_classes(mix)
    assert (exim.anchor, exim.rcpt_anchor) == ("destination", "message")
    at_rcpt_exim, at_rcpt_postfix = sender_classes(mix, deferred_at_rcpt=True)
    assert at_rcpt_exim.anchor == "message"
    assert at_rcpt_exim.retry_offsets == exim.retry_offsets
    assert at_rcpt_postfix == postfix
