"""Sender classes from schedule.json, from TOML, and the documented defaults."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from harness.errors import HerdError
from harness.herd.model.loaders import (
    DEFAULT_SENDERS,
    apply_mix,
    load_schedule_json,
    load_senders_toml,
    parse_mix,
)
from harness.herd.model.sender_classes import (
    dma_default,
    exim_default,
    haraka_default,
    nullmailer_default,
    postfix_default,
)

SAMPLE = Path(__file__).with_name("data") / "schedule-sample.json"
HOUR = 3600.0


def test_postfix_default_doubles_its_backoff_from_300_s_up_to_4000_s() -> None:
    offsets = postfix_default().attempt_offsets()
    assert offsets[:8] == (0.0, 300.0, 600.0, 1200.0, 2400.0, 4800.0, 8800.0, 12800.0)
    assert offsets[-1] <= 5 * 86400
    assert "documented default" in postfix_default().source


def test_exim_default_follows_debians_retry_rule() -> None:
    hours = [round(t / HOUR, 3) for t in exim_default().attempt_offsets()]
    # F,2h,15m: every 15 minutes for 2 hours; G,16h,1h,1.5: 1h, 1.5h, 2.25h, ...;
    # F,4d,6h: every 6 hours; then one attempt at the 4-day cutoff.
    assert hours[:9] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert hours[9:15] == [3.0, 4.5, 6.75, 10.125, 15.188, 22.781]
    assert hours[15] == 28.781
    assert hours[-1] == 96.0
    assert exim_default().anchor == "destination"


def test_nullmailer_default_doubles_its_pause_from_a_minute_to_a_day() -> None:
    minutes = [t / 60 for t in nullmailer_default().attempt_offsets()]
    assert minutes[:6] == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
    assert minutes[11] == 2047.0  # 34.1 h: the pause has reached maxpause, 24 h
    assert [b - a for a, b in itertools.pairwise(minutes[11:])] == [1440.0] * (len(minutes) - 12)
    assert minutes[-1] <= 7 * 1440
    assert nullmailer_default().anchor == "destination"


def test_haraka_default_doubles_from_64_s_and_gives_up_at_its_13th_attempt() -> None:
    offsets = haraka_default().attempt_offsets()
    intervals = [b - a for a, b in itertools.pairwise(offsets)]
    assert intervals == [2.0 ** (n + 5) for n in range(1, 13)]
    assert len(offsets) == 13
    assert offsets[-1] == haraka_default().give_up == 2**18 - 64  # 72.8 hours
    assert haraka_default().next_attempt(offsets[-1]) is None


def test_dma_default_retries_at_every_cron_flush_for_five_days() -> None:
    offsets = dma_default().attempt_offsets()
    assert [b - a for a, b in itertools.pairwise(offsets)] == [300.0] * (len(offsets) - 1)
    assert offsets[-1] <= 5 * 86400
    assert len(offsets) == 5 * 288 + 1  # the first attempt, then every 5 minutes for 5 days
    assert (dma_default().anchor, dma_default().scan_interval) == ("destination", 300.0)


def test_a_nullmailer_schedule_without_its_give_up_takes_the_documented_seven_days(
    tmp_path: Path,
) -> None:
    """Its 7-day queue lifetime ends where a 7-day schedule observation does: not seen."""
    path = tmp_path / "schedule.json"
    path.write_text(
        '{"schedules": [{"target": "nullmailer", "variant": "4xx", "time_scale": 2880,'
        ' "method": "clock-warp", "schedule": {"target": "nullmailer", "version": "2.2",'
        ' "variant": "4xx", "time_scale": 2880, "observed_for": 604800, "warning": null,'
        ' "attempts": [0, 85, 270], "give_up": null}}]}'
    )
    [found] = load_schedule_json(path)
    assert found.give_up == 7 * 86400
    assert "documented default used" in found.source


def test_measured_schedules_prefer_4xx_at_the_smallest_time_scale() -> None:
    classes = {c.name: c for c in load_schedule_json(SAMPLE)}
    assert set(classes) == {"postfix", "exim"}
    document = json.loads(SAMPLE.read_text())
    exim_720 = next(
        s["schedule"]
        for s in document["schedules"]
        if s["target"] == "exim" and s["variant"] == "4xx" and s["time_scale"] == 720
    )
    exim = classes["exim"]
    attempts = exim_720["attempts"]
    assert exim.retry_offsets[0] == pytest.approx(attempts[1] - attempts[0])
    assert exim.give_up == pytest.approx(exim_720["give_up"] - attempts[0])
    assert exim.warning == pytest.approx(exim_720["warning"])
    assert "variant 4xx x720.0 (scaled configuration)" in exim.source
    assert exim.anchor == "destination"
    assert classes["postfix"].concurrency == 20
    assert classes["postfix"].attempt_offsets()[-1] <= classes["postfix"].give_up


def test_a_clock_warp_measurement_wins_over_time_scaled_ones(tmp_path: Path) -> None:
    document = json.loads(SAMPLE.read_text())
    for entry in document["schedules"]:
        if entry["target"] == "postfix" and entry["time_scale"] == 1440:
            entry["method"] = "clock-warp"
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(document))
    postfix = next(c for c in load_schedule_json(path) if c.name == "postfix")
    assert "x1440.0 (clock warp, stock configuration)" in postfix.source


def test_a_version_column_takes_its_mtas_documented_class_for_what_is_not_measured(
    tmp_path: Path,
) -> None:
    document = json.loads(SAMPLE.read_text())
    for entry in document["schedules"]:
        entry["target"] = {"postfix": "postfix@bookworm", "exim": "exim@forky"}[entry["target"]]
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(document))
    classes = {c.name: c for c in load_schedule_json(path)}
    assert set(classes) == {"postfix@bookworm", "exim@forky"}
    assert classes["postfix@bookworm"].concurrency == postfix_default().concurrency
    assert classes["exim@forky"].anchor == exim_default().anchor == "destination"


def test_another_variant_stands_in_when_4xx_was_not_measured(tmp_path: Path) -> None:
    document = json.loads(SAMPLE.read_text())
    document["schedules"] = [
        s for s in document["schedules"] if not (s["target"] == "exim" and s["variant"] == "4xx")
    ]
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(document))
    exim = next(c for c in load_schedule_json(path) if c.name == "exim")
    assert "variant blackhole" in exim.source


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"runs": []}', "no 'schedules'"),
        (
            '{"schedules": [{"target": "x", "variant": "4xx", "time_scale": 60, '
            '"error": "boom", "schedule": null}]}',
            "no measured",
        ),
        ('{"schedules": [{"target": "x", "time_scale": 60}]}', r"schedules\[0\]: .*'variant'"),
        (
            '{"schedules": [{"target": "x", "variant": "4xx", "time_scale": 60,'
            ' "schedule": {"target": "x", "version": "1", "variant": "4xx", "time_scale": 60,'
            ' "observed_for": 99, "warning": null, "attempts": [0, "soon"], "give_up": 100}}]}',
            r"schedules\[0\]\.schedule\.attempts\[1\]",
        ),
        (
            '{"schedules": [{"target": "x", "variant": "4xx", "time_scale": 60,'
            ' "schedule": {"target": "x", "version": "1", "variant": "4xx", "time_scale": 60,'
            ' "observed_for": 99, "warning": null, "attempts": [0, 10], "give_up": null}}]}',
            "not observed and no documented default",
        ),
    ],
)
def test_malformed_schedule_files_give_one_clear_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "schedule.json"
    path.write_text(content)
    with pytest.raises(HerdError, match=message) as caught:
        load_schedule_json(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_bundled_senders_file_is_the_postfix_exim_provider_mix() -> None:
    classes = load_senders_toml(DEFAULT_SENDERS)
    assert [(c.name, c.share) for c in classes] == [
        ("postfix", 0.3),
        ("exim", 0.2),
        ("provider", 0.5),
    ]
    provider = classes[2]
    assert provider.source.startswith("ASSUMPTION")
    assert provider.give_up == 2 * 86400
    offsets = provider.attempt_offsets()
    intervals = [b - a for a, b in itertools.pairwise(offsets)]
    assert intervals[:3] == pytest.approx([300, 450, 675])
    assert max(intervals) == pytest.approx(7200)
    assert classes[0] == postfix_default(0.3)


def test_a_toml_class_can_start_from_a_documented_one(tmp_path: Path) -> None:
    path = tmp_path / "senders.toml"
    path.write_text(
        '[[sender]]\nbased_on = "postfix"\nname = "postfix-1d"\ngive_up = "1d"\nshare = 1\n'
        'source = "our relay: maximal_queue_lifetime = 1d"\n'
    )
    (relay,) = load_senders_toml(path)
    assert relay.name == "postfix-1d"
    assert relay.give_up == 86400
    assert relay.retry_offsets == postfix_default().retry_offsets


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[sender]\n", "not TOML"),
        ("title = 'x'\n", r"expected at least one \[\[sender\]\] table"),
        ('[[sender]]\nbased_on = "qmail"\n', "based_on: unknown class 'qmail'"),
        ('[[sender]]\nbased_on = "exim"\ncolour = "red"\n', "unknown key 'colour'"),
        ('[[sender]]\nbased_on = "exim"\ngive_up = "soon"\n', r"sender\[0\].give_up: 'soon'"),
        (
            '[[sender]]\nname = "a"\nsource = "s"\nretry_offsets = ["5m"]\n',
            "missing give_up",
        ),
        (
            '[[sender]]\nname = "a"\nsource = "s"\ngive_up = "1d"\n',
            "give retry offsets, a backoff rule, or both",
        ),
        (
            '[[sender]]\nname = "a"\nsource = "s"\ngive_up = "1d"\nbackoff = { interval = "0s" }\n',
            r"backoff: backoff interval must be > 0",
        ),
        ('[[sender]]\nbased_on = "exim"\n[[sender]]\nbased_on = "exim"\n', "defined twice"),
    ],
)
def test_malformed_sender_files_give_one_clear_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "senders.toml"
    path.write_text(content)
    with pytest.raises(HerdError, match=message) as caught:
        load_senders_toml(path)
    assert str(path) in str(caught.value)


def test_a_mix_picks_classes_and_sets_their_shares() -> None:
    classes = load_senders_toml(DEFAULT_SENDERS)
    mixed = apply_mix(classes, parse_mix("provider=0.25, postfix=0.75"))
    assert [(c.name, c.share) for c in mixed] == [("provider", 0.25), ("postfix", 0.75)]


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ("postfix=0.3,exim=0.3", "must sum to 1, not 0.6"),
        ("qmail=1", "unknown sender class 'qmail'"),
        ("postfix", "expected NAME=SHARE"),
        ("postfix=lots", "expected NAME=SHARE"),
    ],
)
def test_bad_mixes_are_refused(mix: str, message: str) -> None:
    with pytest.raises(HerdError, match=message):
        apply_mix(load_senders_toml(DEFAULT_SENDERS), parse_mix(mix))
