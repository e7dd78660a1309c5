"""`mailstorm herd run` and `mailstorm bench load` end to end, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

MAILSTORM = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"


def mailstorm(*arguments: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAILSTORM, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.mark.slow
def test_herd_run_writes_locust_reports_summary_and_plots(tmp_path: Path) -> None:
    """Against the embedded receiver (421 above 2 sessions, 100 ms per message), so the
    summary has deferrals by code as well as deliveries."""
    run = mailstorm(
        "herd",
        "run",
        "--curve",
        "constant:40:3:8",
        "--time-factor",
        "1",
        "--max-sessions",
        "2",
        "--session-time",
        "0.1",
        "--run-time",
        "30",
        "--drain",
        "5",
        "--reports",
        str(tmp_path / "reports"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = (tmp_path / "reports" / "latest").resolve()
    for name in (
        "locust_stats.csv",
        "locust_failures.csv",
        "locust_stats_history.csv",
        "locust.html",
        "summary.md",
        "summary.json",
        "herd-rates.png",
        "herd-backlog.png",
        "herd-latency.png",
        "herd-local-0.json",
        "journal.sqlite",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "herd-rates.png").read_bytes().startswith(b"\x89PNG")
    assert re.search(r"^messages: 120 offered, \d+ accepted", run.stdout, re.M), run.stdout
    assert re.search(r"^  greeting 421 4\.7\.0 +\d+", run.stdout, re.M), run.stdout
    assert re.search(r"^  eod +\d+ +0 +\d", run.stdout, re.M)  # latency row per phase
    assert "connection attempts per accepted message: " in run.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["offered"] == 120
    assert summary["receiver"]["messages"] == summary["delivered"]  # journal agrees
    assert summary["receiver"]["refused_421"] > 0
    assert {row["phase"] for row in summary["latency"]} >= {"connect", "greeting", "eod"}


@pytest.mark.docker
@pytest.mark.slow
def test_herd_run_against_a_real_postfix_inbound_server(tmp_path: Path) -> None:
    """The same herd against Postfix: above 2 connections from one client it answers 421
    itself (smtpd_client_connection_count_limit), and every message it accepted is delivered
    into its Maildir."""
    run = mailstorm(
        "herd",
        "run",
        "--against",
        "postfix-inbound",
        "--curve",
        "flat-out:300:16",
        "--time-factor",
        "1",
        "--max-sessions",
        "2",
        "--run-time",
        "40",
        "--drain",
        "10",
        "--reports",
        str(tmp_path / "reports"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = (tmp_path / "reports" / "latest").resolve()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["offered"] == 300
    assert summary["delivered"] > 0
    found = re.search(
        r"^Postfix inbound: (\d+) messages delivered to its Maildir for (\d+)", run.stdout, re.M
    )
    assert found is not None, run.stdout
    assert int(found.group(1)) == int(found.group(2)) == summary["delivered"]
    # Postfix's own admission control, as a real MTA words it.
    assert re.search(r"^  greeting 421 4\.7\.0 +\d+", run.stdout, re.M), run.stdout
    log = (run_dir / "postfix-inbound.log").read_text()
    assert "Connection concurrency limit exceeded" in log


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--target", "192.0.2.1:25"],
            "target 192.0.2.1:25 is not a loopback address: load tests only hit this machine "
            "unless --allow-remote is given (and you own the target)",
        ),
        (["--target", "localhost"], "target 'localhost': expected HOST:PORT"),
        (["--curve", "missing.json"], "missing.json: cannot read it: No such file or directory"),
        (["--curve", "constant:fast:1"], "curve 'constant:fast:1': could not convert"),
    ],
)
def test_refusals_are_one_line_errors(tmp_path: Path, arguments: list[str], message: str) -> None:
    run = mailstorm("herd", "run", *arguments, "--reports", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"mailstorm: error: {message}"), lines[0]
    assert not list(tmp_path.glob("*-herd-run*"))  # refused before a run directory was made


def test_an_unreachable_target_is_a_one_line_error(tmp_path: Path) -> None:
    from harness.ports import free_port

    port = free_port("127.0.0.1")  # nobody listens there
    run = mailstorm(
        "herd", "run", "--target", f"127.0.0.1:{port}", "--reports", str(tmp_path), cwd=tmp_path
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"mailstorm: error: cannot connect to the target 127.0.0.1:{port}: Connection refused"
    )


@pytest.mark.slow
def test_bench_load_prints_rates_and_ratios(tmp_path: Path) -> None:
    result_file = tmp_path / "result.json"
    run = mailstorm(
        "bench",
        "load",
        "--messages",
        "200",
        "--sessions",
        "4",
        "--json",
        str(result_file),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"^smtp-source:\s+[\d.]+ sessions/s", run.stdout, re.M), run.stdout
    assert re.search(r"^locust, 1 worker process:\s+[\d.]+ sessions/s", run.stdout, re.M)
    assert re.search(r"^locust, 2 worker processes:\s+[\d.]+ sessions/s", run.stdout, re.M)
    assert re.search(r"^ratio 1 process/smtp-source: [\d.]+ ", run.stdout, re.M)
    assert re.search(r"^ratio 2 processes/smtp-source: [\d.]+ ", run.stdout, re.M)
    result = json.loads(result_file.read_text())
    assert result["messages"] == 200
    assert result["locust_two_processes"]["messages_per_second"] > 0
    assert result["ratio_one"] > 0
