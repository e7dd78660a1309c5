"""Loss curves: closed forms the model must meet, mass conserved, evidence carried, bad input
refused with one line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import HerdError
from harness.herd.model.loaders import load_senders_toml
from harness.herd.model.loss import (
    DEFAULT_OUTAGES,
    MIX,
    MODES,
    STEP,
    LossCurve,
    LossInput,
    NoQueueSender,
    loss_curves,
)
from harness.herd.model.loss_inputs import DOCUMENTED_PROVIDERS, build_loss_input
from harness.herd.model.sender_classes import (
    BUILTIN_CLASSES,
    DAY,
    Backoff,
    SenderClass,
)

HOUR = 3600.0


def _hourly(give_up: float, share: float = 1.0) -> SenderClass:
    return SenderClass(
        name="hourly",
        retry_offsets=(),
        backoff=Backoff(HOUR),
        give_up=give_up,
        share=share,
        source="a test class: every hour",
    )


def _curve(curves: tuple[LossCurve, ...], sender: str, mode: str) -> LossCurve:
    return next(c for c in curves if c.sender == sender and c.mode == mode)


def test_an_hourly_sender_loses_what_arrived_more_than_its_give_up_before_reopening() -> None:
    """Mail arriving at s is retried at s + k h up to s + 1 d: it is lost iff s + 1 d < D, so
    an outage of D loses (D - 1 d) / D of its mail and delivers the rest within an hour."""
    curves = loss_curves(LossInput((_hourly(DAY),)), outages=(12 * HOUR, 2 * DAY, 4 * DAY))
    curve = _curve(curves, "hourly", "4xx")
    short, two, four = curve.points
    assert short.lost == pytest.approx(0.0, abs=1e-9)
    assert two.lost == pytest.approx(0.5, abs=STEP / (2 * DAY))
    assert four.lost == pytest.approx(0.75, abs=STEP / (4 * DAY))
    for point in curve.points:
        assert point.lost + point.late + point.at_once == pytest.approx(1.0, abs=1e-6)
        assert point.delay_max is not None
        assert point.delay_max <= HOUR + STEP


def test_a_5xx_outage_is_refused_at_once_unless_the_matrix_says_otherwise() -> None:
    classes = (_hourly(DAY, share=0.5), replace(_hourly(DAY, share=0.5), name="retries-5xx"))
    curves = loss_curves(LossInput(classes, at_once_5xx={"retries-5xx": 0.0}), outages=(2 * DAY,))
    assert _curve(curves, "hourly", "5xx").points[0].at_once == 1.0
    kept = _curve(curves, "retries-5xx", "5xx").points[0]
    assert kept.at_once == 0.0
    assert kept.lost == pytest.approx(0.5, abs=0.01)  # as on 4xx
    mix = _curve(curves, MIX, "5xx").points[0]
    assert mix.at_once == pytest.approx(0.5)
    assert mix.lost == pytest.approx(0.25, abs=0.01)


def test_a_sender_with_no_queue_loses_everything_at_once_in_every_mode() -> None:
    loss_input = LossInput(
        (_hourly(DAY, share=0.6),),
        no_queue=(NoQueueSender("app", 0.4, "a test: tried once"),),
    )
    curves = loss_curves(loss_input, outages=(HOUR, DAY))
    for mode in MODES:
        for point in _curve(curves, "app", mode).points:
            assert (point.at_once, point.lost, point.late) == (1.0, 0.0, 0.0)
        # the queueing class delivers a 1-hour outage's mail, and bounces it on 5xx
        expected = 1.0 if mode == "5xx" else 0.4
        assert _curve(curves, MIX, mode).points[0].at_once == pytest.approx(expected)


def test_every_documented_class_conserves_the_mail_of_every_outage() -> None:
    """Lost + late + refused at once is all the mail, for the MTAs' documented classes
    (message- and destination-anchored) and the providers, at every outage length."""
    classes = [factory() for factory in BUILTIN_CLASSES.values()]
    classes += list(load_senders_toml(DOCUMENTED_PROVIDERS))
    share = 1.0 / len(classes)
    loss_input = LossInput(tuple(replace(c, share=share) for c in classes))
    curves = loss_curves(loss_input, outages=DEFAULT_OUTAGES[::4])
    for curve in curves:
        for point in curve.points:
            total = point.lost + point.late + point.at_once
            assert total == pytest.approx(1.0, abs=1e-6), (curve.sender, curve.mode, point)


def test_mailgun_loses_what_it_queued_more_than_8_hours_before_reopening() -> None:
    """Its documented schedule ends at 7h55m and gives up at 8 h (documented_providers.toml)."""
    mailgun = next(c for c in load_senders_toml(DOCUMENTED_PROVIDERS) if c.name == "mailgun")
    assert mailgun.evidence == "documented"
    assert "Mailgun Help Center" in mailgun.source
    point = _curve(
        loss_curves(LossInput((replace(mailgun, share=1.0),)), (4 * DAY,)),
        "mailgun",
        "4xx",
    ).points[0]
    assert point.lost == pytest.approx((4 * DAY - 7 * HOUR - 55 * 60) / (4 * DAY), abs=0.01)


def test_every_provider_cites_its_sources_and_gmail_is_weak() -> None:
    providers = load_senders_toml(DOCUMENTED_PROVIDERS)
    names = {c.name for c in providers}
    assert {"exchange-online", "exchange-server", "sendgrid", "mailgun", "amazon-ses"} <= names
    for provider in providers:
        assert provider.evidence in ("documented", "weak")
        assert len(provider.source) > 80
    assert {c.evidence for c in providers if c.name.startswith("gmail")} == {"weak"}


def test_shares_that_do_not_sum_to_one_are_one_line_errors() -> None:
    with pytest.raises(HerdError, match="sum to 1"):
        loss_curves(LossInput((_hourly(DAY, share=0.3),)))
    with pytest.raises(HerdError, match="unknown sender class 'nope'"):
        build_loss_input(schedule=None, matrix=None, mix={"nope": 1.0})


def test_the_command_writes_the_four_reports_from_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mailstorm herd loss` on the committed reference: a measured Postfix class, the matrix's
    no-queue senders, the documented providers, the January 2023 table."""
    from harness.cli import main

    reference = Path(__file__).parents[2] / "reports" / "reference"
    code = main(
        [
            "herd",
            "loss",
            "--schedule",
            str(reference / "schedule.json"),
            "--matrix",
            str(reference / "matrix.json"),
            "--reports",
            str(tmp_path),
        ]
    )
    assert code == 0
    written = {p.name for p in (tmp_path / "latest").iterdir()}
    assert {"loss.json", "loss.md", "loss.png", "loss.svg"} <= written
    document = json.loads((tmp_path / "latest" / "loss.json").read_text())
    evidence = {(c["sender"], c["evidence"]) for c in document["curves"]}
    assert ("postfix", "measured") in evidence
    assert ("msmtp", "measured") in evidence  # no queue: refused at once
    assert ("mailgun", "documented") in evidence
    msmtp = next(c for c in document["curves"] if (c["sender"], c["mode"]) == ("msmtp", "4xx"))
    assert {p["at_once"] for p in msmtp["points"]} == {1.0}
    markdown = (tmp_path / "latest" / "loss.md").read_text()
    assert "January 2023" in markdown
    assert "an outage of 4d" in capsys.readouterr().out


def test_a_missing_schedule_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    code = main(["herd", "loss", "--schedule", str(tmp_path / "none.json")])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("mailstorm: error: ")
    assert "none.json: no such file" in error
    assert "Traceback" not in error
