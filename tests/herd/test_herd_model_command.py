"""`mailstorm herd model` end to end, its files and its plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.herd.model.plot import write_plots
from harness.herd.model.prediction import HerdScenario, predict
from harness.herd.model.sender_classes import exim_default, postfix_default
from harness.herd.run.curve import curve_from_mapping

SAMPLE = Path(__file__).with_name("data") / "schedule-sample.json"


def test_the_command_prints_the_prediction_and_writes_its_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "herd", "model", "--outage", "12h", "--rate", "36000/h", "--capacity", "40/s",
            "--step", "5m", "--reports", str(tmp_path),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "herd model: 12h outage, normal inbound 10 msgs/s, receiver capacity 40/s" in out
    assert "backlog at reopening" in out
    assert "assumptions:" in out
    assert "ASSUMPTION" in out  # the provider class says what it is
    latest = tmp_path / "latest"
    assert latest.is_symlink()
    for name in ("herd-model.json", "herd-model.md", "herd-model.png", "herd-model.svg"):
        assert (latest / name).stat().st_size > 1000, name
    document = json.loads((latest / "herd-model.json").read_text())
    assert document["format"] == "mailstorm-herd-model/1"
    summary = document["summary"]
    # 12 h at 10 msgs/s, below every give-up: nothing bounced during the outage.
    assert sum(summary["backlog_at_reopening"].values()) == pytest.approx(432000)
    assert sum(summary["bounced_during_outage"].values()) == 0
    assert document["input"]["capacity"] == 40
    assert document["after_reopening"][0]["t"] == 0


def test_the_arrival_curve_is_readable_by_the_load_test_side(tmp_path: Path) -> None:
    assert main(["herd", "model", "--outage", "6h", "--reports", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "latest" / "herd-model.json").read_text())
    curve = curve_from_mapping(document["arrival_curve"], source="herd-model.json")
    assert [c.name for c in curve.classes] == ["postfix", "exim", "provider"]
    assert len(curve.times) == len(document["after_reopening"])


def test_measured_schedules_replace_the_documented_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "herd", "model", "--outage", "6h", "--schedule", str(SAMPLE),
            "--mix", "postfix=0.6,exim=0.4", "--capacity", "none", "--reports", str(tmp_path),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "source: measured:" in out
    assert "receiver capacity unlimited" in out
    assert "provider" not in out.split("sender classes:")[1].split("assumptions:")[0]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--outage", "ages"], "--outage: 'ages' is not a duration"),
        (["--rate", "fast"], "--rate 'fast': expected a rate"),
        (["--capacity", "0/s"], "--capacity: must be > 0"),
        (["--mix", "postfix=1,qmail=0"], "unknown sender class 'qmail'"),
        (["--senders", "/nonexistent/senders.toml"], "/nonexistent/senders.toml: cannot read"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    code = main(["herd", "model", *arguments, "--reports", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "latest").exists()


def test_plots_are_written_as_png_and_svg(tmp_path: Path) -> None:
    prediction = predict(
        HerdScenario(
            outage=8 * 3600.0,
            rate=5.0,
            senders=(postfix_default(0.5), exim_default(0.5)),
            capacity=20.0,
        )
    )
    png, svg = write_plots(prediction, tmp_path)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.stat().st_size > 20_000
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml")
    assert "<svg" in text
    assert "postfix" in text
    assert "exim" in text
    assert "After reopening" in text
