"""Real Locust runs (subprocesses) against our receiver on 127.0.0.1, a few seconds each."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.herd.run.curve import curve_class
from harness.herd.run.locust_run import LoadRunConfig, run_load
from harness.message_ids import id_from_address
from harness.pytest_plugin import ReceiverFactory
from harness.receiver import Journal, plan_from_mapping
from tests.load.conftest import curve_document, records

pytestmark = pytest.mark.slow

#: Above 2 sessions: 421 at the greeting; a message's first RCPT to stage 0: 451; any RCPT to
#: stage 1: 550; each accepted message takes 0.3 s, so six slots overlap beyond the limit.
PLAN = plan_from_mapping(
    {
        "rule": [
            {"stage": "greeting", "sessions_above": 2, "reply": "421 4.7.0 too busy"},
            {
                "stage": "rcpt",
                "recipient_domain": "stage-0.*",
                "message_attempt": 1,
                "reply": "451 4.3.0 try later",
            },
            {"stage": "rcpt", "recipient_domain": "stage-1.*", "reply": "550 5.1.1 no such user"},
            {"stage": "eod", "stall": "300ms"},
        ]
    }
)
#: The curve's class (curve_document's defaults): attempts at ages 0, 1 and 2 s (time factor 1).
POLICY = curve_class("fast", (0.0, 1.0, 2.0), give_up=6.0)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as stream:
        return list(csv.DictReader(stream))


def attempt_rows(run_dir: Path) -> dict[str, list[dict[str, str]]]:
    """The attempt log of a one-process run, by message id, in attempt order."""
    (path,) = run_dir.glob("herd-*.attempts.csv")
    by_message: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in csv_rows(path):
        by_message[row["message_id"]].append(row)
    return by_message


def test_phases_failures_by_code_and_retry_policy(
    receiver_factory: ReceiverFactory, write_curve: Callable[..., Path], tmp_path: Path
) -> None:
    receiver = receiver_factory(PLAN)
    curve = write_curve(curve_document([(0.0, 10.0), (2.0, 10.0)], stages=[(0.0, 0.5), (0.0, 0.5)]))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_load(
        LoadRunConfig(
            curve=str(curve),
            target=f"{receiver.host}:{receiver.port}",
            time_factor=1.0,
            run_time=40,
            drain=20,
            attempt_log=True,
        ),
        run_dir=run_dir,
    )

    stats = {row["Name"]: row for row in csv_rows(run_dir / "locust_stats.csv")}
    for phase in ("connect", "greeting", "ehlo", "mail", "rcpt", "data", "eod"):
        assert int(stats[phase]["Request Count"]) > 0, phase
    failures = {
        (row["Name"], row["Error"]): int(row["Occurrences"])
        for row in csv_rows(run_dir / "locust_failures.csv")
    }
    assert failures.get(("greeting", "421 4.7.0"), 0) > 0, failures
    assert failures.get(("rcpt", "451 4.3.0"), 0) == 10, failures  # once per stage-0 message
    assert failures.get(("rcpt", "550 5.1.1"), 0) == 10, failures  # once per stage-1 message

    receiver.wait_idle()
    with Journal(receiver.journal_path) as journal:
        replies = [e for e in journal.events(kind="reply") if e.stage == "rcpt"]
        accepted = journal.messages()
    rcpt_replies: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for event in replies:
        assert event.message_id is not None
        rcpt_replies[event.message_id].append((event.mono, event.text[:3]))
    stage0 = {m: r for m, r in rcpt_replies.items() if r[0][1] == "451"}
    stage1 = {m: r for m, r in rcpt_replies.items() if r[0][1] == "550"}
    assert len(stage0) == 10
    assert len(stage1) == 10
    # 4xx: the same message is attempted again and accepted, not before the class's next
    # attempt age after the 451 (ages count from the message's first release, which only the
    # Locust side knows: its attempt log, on the same monotonic clock as the journal).
    (record,) = records(run_dir).values()
    start_mono = record["source"]["start_mono"]
    logged = attempt_rows(run_dir)
    for message_id, attempts in stage0.items():
        assert [code for _, code in attempts] == ["451", "250"], message_id
        rows = logged[message_id]
        assert [row["outcome"] for row in rows][-2:] == ["deferred", "delivered"], rows
        first = start_mono + float(rows[0]["first_wall"])
        age_at_451 = attempts[0][0] - first
        upcoming = POLICY.next_attempt(age_at_451)
        assert upcoming is not None, (message_id, age_at_451)
        assert attempts[1][0] >= first + upcoming, (message_id, age_at_451, attempts)
        # and the log says the same: the retry was released at its due age, not before
        assert float(rows[-1]["released"]) >= float(rows[0]["first_wall"]) + upcoming - 1e-9
    # 5xx: bounced at once, never attempted again.
    assert all(len(attempts) == 1 for attempts in stage1.values())
    assert {id_from_address(m.mail_from) for m in accepted} == set(stage0)

    summary = result.summary
    assert (summary.offered, summary.delivered, summary.bounced) == (20, 10, 10)
    assert summary.pending == 0
    assert summary.drained_wall is not None
    assert summary.stop_reason == "every message settled"


def test_shape_follows_a_synthetic_curve(
    receiver_factory: ReceiverFactory, write_curve: Callable[..., Path], tmp_path: Path
) -> None:
    """Users ramp 2 -> 8 -> 2 with the rate (10 -> 40 -> 10 msgs/s, 8 slots at the peak),
    arrivals follow the curve's cumulative count, and the run stops when all is delivered."""
    receiver = receiver_factory()
    curve = write_curve(
        curve_document([(0.0, 10.0), (4.0, 40.0), (8.0, 10.0)], concurrency=8), "ramp.json"
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # Time factor 2: the 8-second curve takes 4 wall seconds.
    result = run_load(
        LoadRunConfig(curve=str(curve), target=f"{receiver.host}:{receiver.port}", time_factor=2.0),
        run_dir=run_dir,
    )
    record = records(run_dir)["herd-local-0"]
    ticks = record["shape"]
    assert ticks, record
    for tick in ticks:
        real = tick["wall"] * 2.0
        rate = 10 + 30 * real / 4 if real <= 4 else max(40 - 30 * (real - 4) / 4, 10)
        expected = 8 if real >= 8 else max(1, -(-8 * rate // 40))
        assert abs(tick["users"] - expected) <= 1, (tick, expected)
    # Offered by real time t <= 4: the integral of 10 + 7.5 t, within a few samples' worth.
    for sample in record["source"]["timeline"]:
        real = sample["wall"] * 2.0
        if real <= 4:
            assert abs(sample["offered"] - (10 * real + 3.75 * real**2)) <= 12, sample
    assert record["source"]["offered"] == 200
    assert result.summary.delivered == 200
    assert result.summary.stop_reason == "every message settled"
    # Slots stopped on the way down finished their sessions: no message was sent twice.
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert len(journal.messages()) == 200


def test_distributed_master_and_two_workers_combine(
    receiver_factory: ReceiverFactory, write_curve: Callable[..., Path], tmp_path: Path
) -> None:
    receiver = receiver_factory()
    curve = write_curve(curve_document([(0.0, 30.0), (2.0, 30.0)]))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_load(
        LoadRunConfig(
            curve=str(curve),
            target=f"{receiver.host}:{receiver.port}",
            time_factor=1.0,
            workers=2,
            run_time=60,
        ),
        run_dir=run_dir,
    )
    found = records(run_dir)
    assert set(found) == {"herd-master-0", "herd-worker-0", "herd-worker-1"}
    shares = sorted((r["share"]["index"], r["share"]["count"]) for r in _workers(found))
    assert shares == [(0, 2), (1, 2)]
    per_worker = [r["source"]["delivered"] for r in _workers(found)]
    assert sum(per_worker) == 60
    assert min(per_worker) == 30
    stats = {row["Name"]: row for row in csv_rows(run_dir / "locust_stats.csv")}
    assert int(stats["eod"]["Request Count"]) == 60  # the master's combined stats
    assert result.summary.processes == 2
    assert result.summary.delivered == 60
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert len(journal.messages()) == 60


def _workers(found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for name, record in found.items() if "worker" in name]


def test_locustfile_refuses_a_remote_host_by_itself(tmp_path: Path) -> None:
    """The guard holds when Locust is started by hand, too (`locust -f`, the locustfile's path)."""
    from harness.herd.run.locust_run import LOCUSTFILE, locust_environment

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "-H",
            "192.0.2.1:25",
            "--herd-curve",
            "constant:1:1",
            "--run-time",
            "20s",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=locust_environment(),
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "192.0.2.1:25 is not a loopback address" in run.stderr


def test_a_herd_from_50_addresses_is_seen_per_address_by_the_receiver(
    write_curve: Callable[..., Path], tmp_path: Path
) -> None:
    """60 slots bound to 50 loopback addresses against the embedded receiver with a per-IP
    limit of one session: the receiver sees the 50 hosts, the summary gives each one's 421
    share, and every message gets through (a 421 is retried)."""
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
            source_addresses="127.0.0.2-127.0.0.51",
            run_time=60,
        ),
        run_dir=run_dir,
    )
    receiver = result.summary.receiver
    assert receiver is not None
    clients = receiver["clients"]
    assert set(clients) == {f"127.0.0.{i}" for i in range(2, 52)}
    assert sum(row["refused_421"] for row in clients.values()) == receiver["refused_421"]
    assert sum(row["messages"] for row in clients.values()) == receiver["messages"]
    for address, row in clients.items():
        assert row["sessions"] >= row["refused_421"] + row["messages"], address
    assert result.summary.delivered == result.summary.offered == 200
    assert "client addresses: 50" in result.summary.report()
    lines = (run_dir / "clients.csv").read_text().splitlines()
    assert lines[0] == "client,sessions,refused_421,messages"
    assert len(lines) == 51


def test_locusts_own_processes_option_forks_the_workers(
    receiver_factory: ReceiverFactory, write_curve: Callable[..., Path], tmp_path: Path
) -> None:
    """`--processes 2`: one locust command, a master and two forked workers sharing the curve."""
    receiver = receiver_factory()
    curve = write_curve(curve_document([(0.0, 30.0), (2.0, 30.0)]))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_load(
        LoadRunConfig(
            curve=str(curve),
            target=f"{receiver.host}:{receiver.port}",
            time_factor=1.0,
            processes=2,
            run_time=60,
        ),
        run_dir=run_dir,
    )
    found = records(run_dir)
    assert set(found) == {"herd-master-0", "herd-worker-0", "herd-worker-1"}
    assert result.summary.processes == 2
    assert result.summary.delivered == 60
    receiver.wait_idle()
    with receiver.journal() as journal:
        assert len(journal.messages()) == 60
