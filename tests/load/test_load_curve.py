"""The arrival curve and its pacing: pure arithmetic, no Locust."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.herd.run.curve import (
    ArrivalCurve,
    LoadCurveError,
    Pacer,
    Stage,
    WorkerShare,
    curve_class,
    curve_from_option,
    demo_curve,
    load_curve,
)

POLICY = curve_class("fast", (0.0, 1.0, 3.0), give_up=8.0, concurrency=8)


def ramp() -> ArrivalCurve:
    """10 msgs/s up to 40 at t=4 and back down to 10 at t=8: 200 messages."""
    return ArrivalCurve(classes=(POLICY,), times=(0.0, 4.0, 8.0), rates=((10.0,), (40.0,), (10.0,)))


def test_rates_and_counts_follow_the_points() -> None:
    curve = ramp()
    assert curve.rate(2.0, 0) == pytest.approx(25.0)
    assert curve.stage_cumulative(4.0, 0, 0) == pytest.approx(100.0)
    assert curve.total_messages == pytest.approx(200.0)
    assert curve.end == 8.0


def test_slots_follow_the_rate_and_open_fully_to_drain() -> None:
    curve = ramp()
    assert curve.slots(0.0) == 2  # 8 x 10/40
    assert curve.slots(4.0) == 8
    assert curve.slots(6.0) == 5  # 8 x 25/40
    assert curve.slots(8.5) == 8  # after the end: every slot, to drain retries


def test_staged_reopening_adds_shifted_fractions() -> None:
    curve = ramp().with_stages([Stage(0.0, 0.5), Stage(2.0, 0.5)])
    assert curve.rate(4.0, 0) == pytest.approx(0.5 * 40 + 0.5 * 25)
    assert curve.end == 10.0
    assert curve.total_messages == pytest.approx(200.0)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers_together_replay_the_curve_once(workers: int) -> None:
    curve = ramp().with_stages([Stage(0.0, 0.5), Stage(2.0, 0.5)])
    produced = []
    for index in range(workers):
        pacer = Pacer(curve, time_factor=2.0, share=WorkerShare(index, workers))
        wall, count = 0.0, 0
        while not pacer.finished:
            count += sum(rows[2] for rows in pacer.due(wall))
            wall += 0.01
        produced.append(count)
        assert pacer.finished
        assert wall >= curve.end / 2.0
    assert sum(produced) == 200
    assert max(produced) - min(produced) <= 2


def test_the_cap_is_split_between_workers() -> None:
    pacers = [Pacer(ramp(), share=WorkerShare(i, 2), max_messages=15) for i in range(2)]
    counts = [sum(row[2] for row in pacer.due(8.0)) for pacer in pacers]
    assert counts == [8, 7]
    assert all(pacer.finished for pacer in pacers)


def test_retry_offsets_then_the_last_interval_until_give_up() -> None:
    assert POLICY.next_attempt(0.0) == 1.0
    assert POLICY.next_attempt(1.5) == 3.0
    assert POLICY.next_attempt(3.0) == 5.0  # the last interval (2 s) repeats
    assert POLICY.next_attempt(6.9) == 7.0
    assert POLICY.next_attempt(7.0) is None  # 9 s would be past the give-up at 8 s


def test_a_curve_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "curve.json"
    path.write_text(json.dumps(demo_curve().to_json()))
    curve = load_curve(path)
    assert curve.total_messages == pytest.approx(demo_curve().total_messages)
    assert [p.name for p in curve.classes] == ["postfix-like", "exim-like"]
    assert len(curve.stages) == 2


def test_a_herd_model_json_is_read_as_steps_with_hosts(tmp_path: Path) -> None:
    """The arrival curve `mailstorm herd model` embeds in herd-model.json (piecewise constant
    per model step; the queued mail as old as the outage; slots = concurrency x hosts)."""
    document = {
        "format": "mailstorm-herd-model/1",
        "input": {"outage": 7200.0},
        "senders": [{"name": "postfix", "hosts": 3}],
        "arrival_curve": {
            "format": "mailstorm-arrival-curve/1",
            "classes": [
                {
                    "name": "postfix",
                    "retry_offsets": [0, 300, 900],
                    "give_up": 432000,
                    "concurrency": 2,
                    "share": 1.0,
                }
            ],
            "points": [{"t": 0, "rates": {"postfix": 5}}, {"t": 60, "rates": {"postfix": 1}}],
        },
    }
    path = tmp_path / "herd-model.json"
    path.write_text(json.dumps(document))
    curve = load_curve(path)
    assert curve.rate(59.0, 0) == pytest.approx(5.0)  # a step, not a slope
    assert curve.total_messages == pytest.approx(5 * 60 + 1 * 60)
    assert curve.queued_age == 7200.0
    assert curve.classes[0].concurrency == 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON"),
        ('{"format": "other"}', "not an arrival curve"),
        (
            '{"format": "mailstorm-arrival-curve/1", "classes": [{"name": "a", '
            '"retry_offsets": [0, 5], "give_up": 9, "concurrency": 1}], '
            '"points": [{"t": 0, "rates": {"b": 1}}, {"t": 1, "rates": {"a": 1}}]}',
            "points[0].rates: unknown class 'b'",
        ),
        (
            '{"format": "mailstorm-arrival-curve/1", "classes": [{"name": "a", '
            '"retry_offsets": [5], "give_up": 9, "concurrency": 1}], "points": []}',
            "classes[0]: retry_offsets must start at 0",
        ),
    ],
)
def test_bad_curve_files_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LoadCurveError) as caught:
        load_curve(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_curve_options() -> None:
    assert curve_from_option("constant:5:2:3").total_messages == pytest.approx(10.0)
    assert curve_from_option("flat-out:100:4").total_messages == pytest.approx(100.0)
    with pytest.raises(LoadCurveError, match="constant:x"):
        curve_from_option("constant:x:1")
    with pytest.raises(LoadCurveError, match="cannot read it"):
        curve_from_option("/nonexistent/curve.json")
    assert math.isclose(curve_from_option("demo").total_messages, demo_curve().total_messages)
