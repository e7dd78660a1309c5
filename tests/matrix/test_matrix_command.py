"""`mailstorm matrix` end to end: real MTAs in containers, reports, baselines, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.schedule.runner import default_clock_warps
from harness.targets import target_class
from tests.stock_schedules import STOCK_SCHEDULE_CHECKS

#: Three quick scenarios: a bounce, a deferral, a drop after the dot; 2 real hours in 12 s.
#: The senders it runs: three whose stock schedules are measured side by side in one warped
#: batch (harness/schedule/runner.py, WARPS_AT_ONCE), and the control column. A fourth would add a
#: batch per repeat (five minutes of CI); Sendmail's schedule is in reports/reference/ and its
#: contract in tests/targets/test_sender_targets.py.
QUICK_TARGETS = ["exim", "noqueue", "opensmtpd", "postfix"]
QUICK = [
    "--targets",
    ",".join(QUICK_TARGETS),
    "--scenario",
    "rcpt-550",
    "--scenario",
    "rcpt-450",
    "--scenario",
    "disconnect-after-dot",
]


def matrix(*arguments: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "matrix", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.docker
def test_quick_matrix_then_its_shards_merged_give_the_same_verdicts(tmp_path: Path) -> None:
    reports, baseline = tmp_path / "reports", tmp_path / "baseline.json"
    # The first run also measures each target's stock retry schedule under a clock warp,
    # after the matrix, once (about 3 minutes: Exim's 4 days at x1800). The matrix measures
    # them twice by default; the second run's min to max is read back from the committed
    # reference, which has both runs (tests/results/test_reference_files.py), and three
    # more minutes of CI would only repeat the first.
    first = matrix(
        *QUICK,
        "--time-scale",
        "600",
        "--schedule-repeats",
        "1",
        "--reports",
        str(reports),
        "--write-baseline",
        str(baseline),
    )
    assert first.returncode == 0, first.stdout + first.stderr
    latest = reports / "latest"
    for name in ("matrix.json", "matrix.md", "matrix.html", "schedule.json"):
        assert (latest / name).is_file(), name
    data = json.loads((latest / "matrix.json").read_text())
    schedules = {t["name"]: t["schedule"] for t in data["targets"]}
    # The stock schedules are measured under a clock warp, for the targets that keep one.
    warped = sorted(default_clock_warps(QUICK_TARGETS))
    assert warped == sorted(n for n in QUICK_TARGETS if target_class(n).queues)
    for target in warped:
        assert schedules[target] is not None, first.stdout
        assert schedules[target]["method"] == "clock-warp"
        assert (latest / f"schedule-{target}.png").read_bytes().startswith(b"\x89PNG")
        assert (latest / f"schedule-{target}.svg").read_text().lstrip().startswith("<svg")
    assert set(warped) <= set(STOCK_SCHEDULE_CHECKS)  # every schedule has its expectation
    for target in warped:
        STOCK_SCHEDULE_CHECKS[target](schedules[target])
    # Each schedule was measured once: one run per target, a stock schedule, and no min to
    # max (one draw has no spread).
    runs = json.loads((latest / "schedule.json").read_text())["schedules"]
    assert sorted((r["target"], r["repeat"]) for r in runs) == [(t, 0) for t in warped]
    for target in data["targets"]:
        if target["name"] not in warped:
            assert target["schedule"] is None, target["name"]
        assert target["schedule_spread"] is None, target["name"]
    assert "min to max of" not in (latest / "matrix.md").read_text()
    assert {t["name"] for t in data["targets"]} == set(QUICK_TARGETS)
    assert all(t["version"] for t in data["targets"])
    cases = {(c["scenario"], c["target"]): c for c in data["cases"]}
    assert len(cases) == 3 * len(QUICK_TARGETS)
    for target in QUICK_TARGETS:
        bounced = cases[("rcpt-550", target)]
        deferred = cases[("rcpt-450", target)]
        assert deferred["attempts"][0]["stage"] == "rcpt"
        assert deferred["attempts"][0]["reply"].startswith("450 ")
        assert cases[("disconnect-after-dot", target)]["fates"]["lost"] == 0
        # every cell's times carry their ±; a warped one (OpenSMTPD) measured in its own case
        assert deferred["time_uncertainty"] is not None, target
        if not target_class(target).queues:
            # The control column: one attempt each, no DSN, no queue: both messages lost.
            assert bounced["fates"]["lost"] == 1, bounced
            assert bounced["dsn"] is None
            assert deferred["fates"]["lost"] == 1, deferred
            assert len(deferred["attempts"]) == 1
            continue
        assert bounced["fates"]["bounced"] == 1, bounced
        assert bounced["dsn"]["status"].startswith("5.")
        # OpenSMTPD quotes the reply only in the DSN's text part (no Diagnostic-Code)
        assert bounced["dsn"]["remote_reply_code"] in (550, None), bounced["dsn"]
        assert deferred["fates"]["queued"] == 1, deferred
        assert deferred["observed_for"] >= 7200 - 600
    # Again, in two shards (as two machines would run it), merged and compared with the first
    # run's baseline after the merge: the same verdicts, every cell once.
    shards = []
    for index in (1, 2):
        shard_reports = tmp_path / f"shard{index}"
        run = matrix(
            *QUICK,
            "--time-scale",
            "600",
            "--no-schedules",
            "--shard",
            f"{index}/2",
            "--reports",
            str(shard_reports),
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"shard {index}/2" in run.stdout
        shards.append(shard_reports / "latest")
    cells = [
        {(c["scenario"], c["target"]) for c in json.loads((d / "matrix.json").read_text())["cases"]}
        for d in shards
    ]
    assert cells[0]
    assert cells[1]
    assert not cells[0] & cells[1]
    assert cells[0] | cells[1] == set(cases)
    merged = matrix(
        "merge", *map(str, shards), "--reports", str(reports), "--baseline", str(baseline)
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "2 shards, 12 cells" in merged.stdout
    assert "no difference from the baseline" in merged.stdout


@pytest.mark.docker
def test_a_changed_result_fails_against_the_baseline(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    first = matrix(
        "--targets",
        "postfix",
        "--scenario",
        "rcpt-550",
        "--no-schedules",
        "--reports",
        str(tmp_path),
        "--write-baseline",
        str(baseline),
    )
    assert first.returncode == 0, first.stdout + first.stderr
    text = baseline.read_text()
    assert '"bounced": 1' in text
    baseline.write_text(
        text.replace('"bounced": 1', '"bounced": 0').replace('"delivered": 0', '"delivered": 1')
    )
    second = matrix(
        "--targets",
        "postfix",
        "--scenario",
        "rcpt-550",
        "--no-schedules",
        "--reports",
        str(tmp_path),
        "--baseline",
        str(baseline),
    )
    assert second.returncode == 1
    assert "rcpt-550" in second.stdout
    assert "difference" in second.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--targets", "qmail"], "unknown target 'qmail'"),
        (["--scenario", "no-such-scenario"], "no scenario matches no-such-scenario"),
        (["--time-scale", "medium=5"], "unknown tier 'medium'"),
        (["--time-scale", "0"], "K must be > 0"),
        (["--baseline", "/nonexistent/baseline.json"], "/nonexistent/baseline.json"),
        (["--shard", "3/2"], "expected I/N with 1 <= I <= N"),
        (["--shard", "half"], "expected I/N, e.g. 1/2"),
        (["merge"], "give the shards' run directories"),
        (["merge", "/nonexistent/shard"], "no matrix.json there"),
        (["postfix"], "unexpected argument 'postfix'"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, arguments: list[str], message: str) -> None:
    result = matrix(*arguments, "--reports", str(tmp_path), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("mailstorm: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.docker
def test_a_relay_s_dns_scenarios_are_not_applicable_and_not_run(tmp_path: Path) -> None:
    """msmtp relays to its smarthost and looks up no MX: its DNS/MX cells are n/a, with the
    reason, in every report; its static cells are measured as usual (one attempt, lost)."""
    reports = tmp_path / "reports"
    run = matrix(
        "--targets",
        "msmtp",
        "--scenario",
        "rcpt-450",
        "--scenario",
        "mx-primary-refused",
        "--time-scale",
        "600",
        "--no-schedules",
        "--reports",
        str(reports),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    latest = reports / "latest"
    data = json.loads((latest / "matrix.json").read_text())
    cases = {c["scenario"]: c for c in data["cases"]}
    relay = cases["mx-primary-refused"]
    assert relay["verdict"] == "n/a"
    assert "smarthost" in relay["not_applicable"]
    assert relay["attempts"] == []
    assert relay["error"] is None
    deferred = cases["rcpt-450"]
    assert deferred["verdict"] != "n/a"
    assert deferred["error"] is None
    assert deferred["fates"]["lost"] == 1
    assert [a["reply"][:4] for a in deferred["attempts"]] == ["450 "]
    assert "`mx-primary-refused` | \N{HEAVY MINUS SIGN} n/a |" in (latest / "matrix.md").read_text()
    assert 'skipped="1"' in (latest / "junit.xml").read_text()
