"""The docs' example user target in a real run: Postfix with a one-day queue lifetime loses mail
of a 72-hour 451 outage that stock Postfix delivers (docs/user-targets.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.scenarios import Tier, load_catalogue, select
from harness.targets import load_user_target

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "postfix-1d"
HOUR, DAY = 3600.0, 86400.0


@pytest.mark.docker
def test_a_one_day_lifetime_bounces_what_stock_postfix_delivers(tmp_path: Path) -> None:
    user = load_user_target(EXAMPLE).name
    scenarios = select(load_catalogue(), ["outage-72h-451"])
    # k = 5760: the scenario's 96 hours in one wall minute, both targets side by side.
    run = MatrixRun(["postfix", user], scenarios, tmp_path, {Tier.COARSE: 5760.0})
    cases = {case.target: case for case in run_matrix(run).cases}
    stock, mine = cases["postfix"], cases[user]
    assert stock.error is None, stock.error
    assert mine.error is None, mine.error
    assert stock.fates["delivered"] == 3, stock.fates
    # Messages at 0, 24 and 48 hours. The first two reach their one-day lifetime inside the
    # outage and bounce at their first failed attempt past it: at most a backoff (scaled, 2 wall
    # seconds = 3.2 h) and a queue scan later, ± the retry clock's uncertainty (k x 2 s). The
    # third reaches it at 72 hours, as the outage ends: Postfix bounces only after a failed
    # attempt, so whether it is lost is a race this run does not judge.
    u = mine.time_uncertainty or 0.0
    settled = sorted((r.settled_t or 0.0, r.fate.value) for r in mine.recipients)
    assert [fate for _, fate in settled[:2]] == ["bounced", "bounced"], settled
    for injected, (at, _) in zip((0.0, DAY), settled[:2], strict=True):
        assert DAY - u <= at - injected <= DAY + 5 * HOUR + u, (injected, at, u)
    third_at, third = settled[2]
    assert third in ("bounced", "delivered"), settled
    assert third_at >= 3 * DAY - u, settled
    queued = next(c for c in mine.checks if c.measured.get("check") == "queued-not-bounced")
    assert queued.outcome.value == "deviation", queued.detail
    assert "bounced after 1d" in queued.detail, queued.detail
