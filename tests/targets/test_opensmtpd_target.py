"""OpenSMTPD in its container: what its driver adds to the contract every target passes
(test_sender_targets.py). Its schedule is compiled in, so it always runs on the warped clock;
and its parent's setup handshake must survive the fastest clock the matrix uses."""

from __future__ import annotations

import pytest

from harness.matrix import DEFAULT_TIME_SCALES
from harness.pytest_plugin import TargetFactory
from harness.targets import BOUNCE_DOMAIN, RouteTable

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("time_scale", sorted(set(DEFAULT_TIME_SCALES.values())))
def test_it_runs_its_stock_configuration_on_a_clock_as_fast_as_the_time_scale(
    target_factory: TargetFactory, container_gateway: str, time_scale: float
) -> None:
    # At x1440 the parent's 10 s wait for each child's setup is 7 ms unless mailstorm-alarm.c
    # keeps it a wall wait: smtpd then exits "imsg_wait: Connection timed out" and never starts.
    routes = RouteTable.to_one([BOUNCE_DOMAIN], container_gateway, 9)
    target = target_factory("opensmtpd", routes, time_scale=time_scale)
    assert target.clock_warp
    assert target.clock is not None
    assert target.clock.factor == time_scale
    # stock times: the configuration sets none, and the 4-day ttl takes 4 days / k of wall time
    assert "ttl" not in target.exec(["cat", "/etc/smtpd.conf"])
    assert target.scaling.get("queue_ttl").configured_seconds == 4 * 86400 / time_scale
    assert target.exec(["pgrep", "-c", "-x", "smtpd"]).strip() not in ("", "0")
