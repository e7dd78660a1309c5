"""Warped schedules are measured a few targets at a time (runner.WARPS_AT_ONCE): every wall
second a warped daemon waits for a core is K seconds of its own time."""

from __future__ import annotations

import pytest

from harness.cases.engine import Group
from harness.errors import MailstormError
from harness.schedule.runner import warp_batches


def group(target: str, *, warped: bool, scale: float = 1800.0) -> Group:
    return Group(target, scale, (), clock_warp=warped)


def test_warped_targets_go_in_batches_and_scaled_groups_first() -> None:
    names = ["postfix", "postfix@bookworm", "exim", "exim@forky", "postfix@forky"]
    warped = [group(n, warped=True) for n in names]
    # a target with two warped groups (two sharing sets) keeps them in one batch
    warped.insert(1, group("postfix", warped=True, scale=2880.0))
    scaled = [group("postfix", warped=False, scale=1440.0)]
    batches = warp_batches([*scaled, *warped], 2)
    assert [[(g.target, g.clock_warp) for g in b] for b in batches] == [
        [("postfix", False), ("postfix", True), ("postfix", True), ("postfix@bookworm", True)],
        [("exim", True), ("exim@forky", True)],
        [("postfix@forky", True)],
    ]
    assert sum(len(b) for b in batches) == len(scaled) + len(warped)
    assert warp_batches(scaled, 2) == [scaled]
    assert warp_batches([], 3) == []


def test_at_least_one_at_once() -> None:
    with pytest.raises(MailstormError, match="at least one"):
        warp_batches([group("exim", warped=True)], 0)
