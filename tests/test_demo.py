"""`mailstorm demo`, the README's main command until the matrix lands, run as users run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness import Journal


def test_demo_writes_a_report_backed_by_the_journals(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "demo", "--reports", str(reports), "--messages", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    latest = reports / "latest"
    assert latest.is_symlink()
    report = (latest / "demo.md").read_text()
    assert "| accept | 3 | 3 | 0 | 0 | 0 | 3 | 0 |" in report
    assert "| libero-550 | 3 | 0 | 0 | 3 | 0 | 0 | 3 |" in report
    assert "| outage-451 | 3 | 0 | 3 | 0 | 0 | 0 | 3 |" in report
    assert "| disconnect-after-dot | 3 | 0 | 0 | 0 | 3 | 0 | 3 |" in report
    with Journal(latest / "libero-550.journal.sqlite") as journal:
        rejections = [e.text for e in journal.events(kind="reply") if e.stage == "rcpt"]
    assert len(rejections) == 3
    assert all(text.startswith("550 5.1.1 <user") for text in rejections)


def test_second_run_keeps_the_first(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "harness",
        "demo",
        "--reports",
        str(tmp_path),
        "--messages",
        "1",
    ]
    for _ in range(2):
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    runs = [path for path in tmp_path.iterdir() if path.name != "latest"]
    assert len(runs) == 2
    assert (tmp_path / "latest").resolve() == max(runs).resolve()


def test_bad_scenario_is_a_clear_error(tmp_path: Path) -> None:
    plan = tmp_path / "bad.toml"
    plan.write_text('[[rule]]\nstage = "rcpt"\nreply = "99 x"\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "demo",
            "--scenario",
            str(plan),
            "--reports",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"mailstorm: error: {plan}: rule 1 (line 1), key 'reply'")
    assert "Traceback" not in result.stderr
