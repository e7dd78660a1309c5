"""The docs' example user targets in a real run: Postfix and Exim that give up after one day
lose mail of a 72-hour 451 outage that their stock configurations deliver
(docs/user-targets.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.scenarios import Tier, load_catalogue, select
from harness.targets import load_user_target

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HOUR, DAY = 3600.0, 86400.0


@pytest.mark.docker
def test_a_one_day_give_up_bounces_what_the_stock_configuration_delivers(tmp_path: Path) -> None:
    # stock target -> its one-day user target
    users = {"postfix": "postfix-1d", "exim": "exim-1d"}
    for name in users.values():
        load_user_target(EXAMPLES / name)
    scenarios = select(load_catalogue(), ["outage-72h-451"])
    # k = 5760: the scenario's 96 hours in one wall minute, all four targets side by side.
    targets = ["postfix", "exim", *users.values()]
    run = MatrixRun(targets, scenarios, tmp_path, {Tier.COARSE: 5760.0})
    cases = {case.target: case for case in run_matrix(run).cases}
    for stock_name, user_name in users.items():
        stock, mine = cases[stock_name], cases[user_name]
        assert stock.error is None, stock.error
        assert mine.error is None, mine.error
        assert stock.fates["delivered"] == 3, (stock_name, stock.fates)
        # Messages at 0, 24 and 48 hours. The first two reach the one-day limit inside the
        # outage and bounce at the first failed attempt (Postfix) or queue run (Exim) past
        # it: within a few scaled intervals (a wall second is 1.6 h here), ± the retry
        # clock's uncertainty. The third reaches it at 72 hours, as the outage ends: both
        # bounce only after a failure, so whether it is lost is a race not judged here.
        u = mine.time_uncertainty or 0.0
        settled = sorted((r.settled_t or 0.0, r.fate.value) for r in mine.recipients)
        assert [fate for _, fate in settled[:2]] == ["bounced", "bounced"], (user_name, settled)
        for injected, (at, _) in zip((0.0, DAY), settled[:2], strict=True):
            assert DAY - u <= at - injected <= DAY + 5 * HOUR + u, (user_name, injected, at, u)
        assert settled[2][1] in ("bounced", "delivered"), settled
        assert settled[2][0] >= 3 * DAY - u, settled
        queued = next(c for c in mine.checks if c.measured.get("check") == "queued-not-bounced")
        assert queued.outcome.value == "deviation", queued.detail
        assert queued.detail.startswith("bounced after "), queued.detail
