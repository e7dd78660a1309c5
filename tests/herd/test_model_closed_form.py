"""The herd model against cases whose answer is known in closed form."""

from __future__ import annotations

import math

import pytest

from harness.errors import HerdError
from harness.herd.model.prediction import HerdPrediction, HerdScenario, predict
from harness.herd.model.sender_classes import Backoff, SenderClass

HOUR = 3600.0


def fixed(
    interval: float,
    give_up: float,
    *,
    name: str = "fixed",
    share: float = 1.0,
    **overrides: object,
) -> SenderClass:
    """A class retrying every `interval` until `give_up`, no queue-run spread."""
    return SenderClass(
        name=name,
        retry_offsets=(),
        backoff=Backoff(interval),
        give_up=give_up,
        share=share,
        source="test",
        **overrides,  # type: ignore[arg-type]
    )


def total(values: dict[str, float]) -> float:
    return sum(values.values())


def accepted_messages(prediction: HerdPrediction) -> float:
    step = prediction.scenario.step
    return sum(total(p.accepted) * step for p in prediction.steps)


@pytest.mark.parametrize(("outage_h", "give_up_h"), [(10, 4), (4, 10), (6, 6)])
def test_backlog_and_bounces_at_reopening(outage_h: float, give_up_h: float) -> None:
    rate = 2.0
    prediction = predict(
        HerdScenario(outage=outage_h * HOUR, rate=rate, senders=(fixed(HOUR, give_up_h * HOUR),))
    )
    assert prediction.backlog_at_reopening["fixed"] == pytest.approx(
        rate * min(outage_h, give_up_h) * HOUR
    )
    assert prediction.bounced_during_outage["fixed"] == pytest.approx(
        rate * max(0.0, outage_h - give_up_h) * HOUR
    )


def test_unlimited_capacity_drains_everything_at_the_first_attempt_after_reopening() -> None:
    rate, interval = 3.0, 1800.0
    prediction = predict(
        HerdScenario(outage=5 * HOUR, rate=rate, senders=(fixed(interval, 2 * HOUR),))
    )
    backlog = rate * 2 * HOUR
    first_period = [p for p in prediction.steps if p.t < interval]
    # The backlog is spread evenly over one interval: offered = normal + backlog / interval.
    for point in first_period:
        assert total(point.offered) == pytest.approx(rate + backlog / interval)
        assert point.deferred["fixed"] == 0
    assert all(total(p.offered) == pytest.approx(rate) for p in prediction.steps[30:])
    assert prediction.drain_time is not None
    assert prediction.drain_time <= interval
    assert sum(total(p.backlog) for p in prediction.steps[30:]) == pytest.approx(0, abs=1e-6)
    assert total(prediction.bounced_after_reopening) == 0
    assert prediction.peak_offered_rate == pytest.approx(rate + backlog / interval)


def test_capacity_below_the_wave_drains_at_capacity_minus_normal_rate() -> None:
    rate, capacity, step = 10.0, 40.0, 60.0
    prediction = predict(
        HerdScenario(
            outage=3 * HOUR,
            rate=rate,
            senders=(fixed(step, 10 * HOUR),),
            capacity=capacity,
            step=step,
        )
    )
    backlog = rate * 3 * HOUR
    expected = 0.99 * backlog / (capacity - rate)  # drained: below 1% of the backlog
    assert prediction.drain_time is not None
    assert abs(prediction.drain_time - expected) <= step
    busy = [p for p in prediction.steps if p.t + step < expected]
    assert all(total(p.accepted) == pytest.approx(capacity) for p in busy)


def test_deferred_mail_comes_back_exactly_one_interval_later() -> None:
    rate, capacity, interval = 1.0, 1.5, HOUR
    prediction = predict(
        HerdScenario(
            outage=HOUR,
            rate=rate,
            senders=(fixed(interval, 10 * HOUR),),
            capacity=capacity,
        )
    )
    steps = prediction.steps
    per_interval = int(interval / prediction.scenario.step)
    # First hour: normal mail + the backlog (1 msg/s) = 2/s, of which 0.5/s deferred (421).
    assert all(total(p.deferred) == pytest.approx(0.5) for p in steps[:per_interval])
    for j in range(per_interval, 2 * per_interval):
        echo = steps[j - per_interval].deferred["fixed"]
        assert steps[j].offered["fixed"] == pytest.approx(rate + echo)
        assert steps[j].deferred["fixed"] == pytest.approx(0)
    assert all(total(p.offered) == pytest.approx(rate) for p in steps[2 * per_interval :])


def test_destination_anchored_senders_release_their_whole_queue_at_the_host_retry() -> None:
    rate = 1.0
    host = SenderClass(
        name="host",
        retry_offsets=(6 * HOUR, 12 * HOUR),
        backoff=Backoff(6 * HOUR),
        give_up=4 * 24 * HOUR,
        share=1.0,
        source="test",
        anchor="destination",
    )
    # Reopening at 7 h: the host's next retry is at 12 h, 5 h later; until then even the
    # mail that arrives after reopening waits.
    prediction = predict(HerdScenario(outage=7 * HOUR, rate=rate, senders=(host,)))
    release = int(5 * HOUR / prediction.scenario.step)
    assert all(total(p.offered) == 0 for p in prediction.steps[:release])
    step = prediction.scenario.step
    # 7 h of backlog + 5 h of held new mail + this step's own new mail.
    assert prediction.steps[release].offered["host"] * step == pytest.approx(
        rate * 12 * HOUR + rate * step
    )
    assert prediction.peak_time == 5 * HOUR
    assert total(prediction.steps[release].backlog) == pytest.approx(0)


def test_sender_concurrency_caps_a_class_when_its_hosts_are_known() -> None:
    rate = 2.0
    sender = fixed(60.0, 10 * HOUR, hosts=2, concurrency=5)  # 10 msgs/s at 1 s a session
    prediction = predict(HerdScenario(outage=HOUR, rate=rate, senders=(sender,)))
    assert max(total(p.offered) for p in prediction.steps) == pytest.approx(10.0)
    assert prediction.drain_time is not None
    assert abs(prediction.drain_time - 0.99 * rate * HOUR / (10 - rate)) <= 60


def test_mail_is_conserved_with_echoes_and_bounces_after_reopening() -> None:
    rate, outage = 5.0, 10 * HOUR
    senders = (
        fixed(900.0, 11 * HOUR, name="short", share=0.6, scan_interval=300.0),
        fixed(1200.0, 3 * 24 * HOUR, name="long", share=0.4),
    )
    prediction = predict(
        HerdScenario(outage=outage, rate=rate, senders=senders, capacity=8.0, step=60.0)
    )
    assert prediction.bounced_after_reopening["short"] > 0  # refused past its give-up
    simulated = len(prediction.steps) * prediction.scenario.step
    arrived = rate * (outage + simulated)
    left = total(prediction.steps[-1].backlog)
    assert accepted_messages(prediction) + total(prediction.bounced_during_outage) + total(
        prediction.bounced_after_reopening
    ) + left == pytest.approx(arrived, rel=1e-9)


def test_capacity_below_the_normal_rate_never_drains() -> None:
    prediction = predict(
        HerdScenario(
            outage=HOUR, rate=10.0, senders=(fixed(600.0, 5 * HOUR),), capacity=5.0, horizon=HOUR
        )
    )
    assert prediction.drain_time is None


def test_delay_warnings_go_to_mail_older_than_the_warning_time() -> None:
    sender = fixed(HOUR, 5 * HOUR, warning=2 * HOUR)
    prediction = predict(HerdScenario(outage=6 * HOUR, rate=1.0, senders=(sender,)))
    assert prediction.warned_during_outage["fixed"] == pytest.approx(4 * HOUR)


def test_sessions_cap_the_capacity() -> None:
    scenario = HerdScenario(
        outage=HOUR,
        rate=1.0,
        senders=(fixed(HOUR, 5 * HOUR),),
        capacity=100.0,
        max_sessions=20,
        session_seconds=2.0,
    )
    assert scenario.effective_capacity == 10.0
    unlimited = HerdScenario(outage=HOUR, rate=1.0, senders=(fixed(HOUR, 5 * HOUR),))
    assert math.isinf(unlimited.effective_capacity)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate": -1.0}, "rate must be >= 0"),
        ({"capacity": 0.0}, "capacity must be > 0"),
        ({"senders": ()}, "mix is empty"),
        ({"senders": (fixed(HOUR, HOUR, share=0.5),)}, "sum to 1"),
    ],
)
def test_bad_scenarios_are_refused_with_a_clear_message(
    changes: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "outage": HOUR,
        "rate": 1.0,
        "senders": (fixed(HOUR, HOUR),),
    } | changes
    with pytest.raises(HerdError, match=message):
        HerdScenario(**arguments)  # type: ignore[arg-type]


def test_without_mail_after_reopening_only_the_backlog_arrives() -> None:
    """What a reopen experiment injects: mail during the outage only."""
    rate, interval = 3.0, 1800.0
    scenario = HerdScenario(
        outage=5 * HOUR,
        rate=rate,
        senders=(fixed(interval, 2 * HOUR),),
        mail_after_reopening=False,
    )
    prediction = predict(scenario)
    backlog = rate * 2 * HOUR
    first_period = [p for p in prediction.steps if p.t < interval]
    for point in first_period:
        assert total(point.offered) == pytest.approx(backlog / interval)
    assert all(total(p.offered) == 0 for p in prediction.steps if p.t >= interval)
    assert accepted_messages(prediction) == pytest.approx(backlog)
