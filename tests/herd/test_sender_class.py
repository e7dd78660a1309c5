"""One sender-class type for the model and the load run: the run's next attempt is the model's
schedule, for explicit offsets, a fixed backoff and a growing one."""

from __future__ import annotations

import itertools

import pytest

from harness.herd import SenderClass
from harness.herd.model.sender_classes import Backoff, exim_default, postfix_default

GROWING = SenderClass(
    name="growing",
    retry_offsets=(60.0,),
    backoff=Backoff(100.0, factor=2.0, maximum=700.0),
    give_up=5000.0,
    share=1.0,
    source="test",
)


@pytest.mark.parametrize(
    "sender", [postfix_default(), exim_default(), GROWING], ids=lambda s: s.name
)
def test_next_attempt_walks_the_models_attempt_offsets(sender: SenderClass) -> None:
    offsets = sender.attempt_offsets()
    for earlier, later in itertools.pairwise(offsets):
        assert sender.next_attempt(earlier) == pytest.approx(later)
        assert sender.next_attempt((earlier + later) / 2) == pytest.approx(later)
    assert sender.next_attempt(offsets[-1]) is None  # the next one is past give_up


def test_from_attempts_repeats_the_last_interval() -> None:
    sender = SenderClass.from_attempts("fast", (0.0, 1.0, 3.0), give_up=8.0, concurrency=2)
    assert sender.attempt_offsets() == (0.0, 1.0, 3.0, 5.0, 7.0)
    assert sender.next_attempt(3.0) == 5.0


@pytest.mark.parametrize(
    ("attempts", "problem"),
    [((1.0, 2.0), "start at 0"), ((0.0,), "at least one retry"), ((0.0, 2.0, 2.0), "increasing")],
)
def test_from_attempts_refuses_a_bad_schedule(attempts: tuple[float, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SenderClass.from_attempts("bad", attempts, give_up=10.0, concurrency=1)
