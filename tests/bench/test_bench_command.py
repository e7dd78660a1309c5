"""`mailstorm bench receiver` end to end, as a user runs it (no speed is asserted here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.bench import PostfixTools

MAILSTORM = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"


def mailstorm(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAILSTORM, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_bench_receiver_prints_both_rates_and_the_ratio(
    postfix_tools: PostfixTools, tmp_path: Path
) -> None:
    result_file = tmp_path / "result.json"
    run = mailstorm(
        "bench", "receiver", "--messages", "60", "--sessions", "4", "--json", str(result_file)
    )
    assert run.returncode == 0, run.stderr
    assert re.search(r"^smtp-sink:\s+[\d.]+ msgs/s", run.stdout, re.M), run.stdout
    assert re.search(r"^mailstorm receiver \(journal on\):\s+[\d.]+ msgs/s", run.stdout, re.M)
    two = r"^mailstorm receiver \(journal on, 2 processes\):\s+[\d.]+ msgs/s"
    assert re.search(two, run.stdout, re.M), run.stdout
    assert re.search(r"^ratio receiver/smtp-sink: [\d.]+$", run.stdout, re.M)
    assert re.search(r"^ratio receiver/smtp-sink \(2 processes\): [\d.]+$", run.stdout, re.M)
    assert re.search(r"^machine: \d+ cores", run.stdout, re.M)

    result = json.loads(result_file.read_text())
    assert result["messages"] == 60
    assert result["sessions"] == 4
    assert result["smtp_sink"]["messages_per_second"] > 0
    assert result["receiver"]["messages_per_second"] > 0
    assert result["ratio"] > 0
    assert [r["processes"] for r in result["receivers"]] == [1, 2]
    assert all(r["messages"] == 60 and r["ratio"] > 0 for r in result["receivers"])
    assert result["machine"]["cores"] >= 1


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    zero = mailstorm("bench", "receiver", "--messages", "0", timeout=60)
    assert zero.returncode == 2
    assert "--messages: must be at least 1, not 0" in zero.stderr

    nowhere = tmp_path / "missing" / "result.json"
    bad_json = mailstorm("bench", "receiver", "--json", str(nowhere), timeout=60)
    assert bad_json.returncode == 2
    assert bad_json.stderr.strip().splitlines() == [
        f"mailstorm: error: --json {nowhere}: directory {nowhere.parent} does not exist"
    ]


def test_bench_needs_a_benchmark_name() -> None:
    run = mailstorm("bench", timeout=60)
    assert run.returncode == 2
    assert "BENCHMARK" in run.stderr


def test_bad_process_counts_and_source_addresses_are_one_line_errors() -> None:
    zero = mailstorm("bench", "receiver", "--processes", "1,0", timeout=60)
    assert zero.returncode == 2
    assert "--processes: must be at least 1, not 0" in zero.stderr

    remote = mailstorm("bench", "load", "--source-addresses", "10.0.0.1", timeout=60)
    assert remote.returncode == 2, remote.stderr
    assert remote.stderr.strip().splitlines() == [
        "mailstorm: error: --source-addresses: source address 10.0.0.1 is not a loopback "
        "address (127.0.0.0/8, ::1): allow remote targets to use a container's own addresses"
    ]
