"""The primary MX changes its fault during a case, and the fates and per-host attempts follow.

mx1 (preference 10) refuses connections for the first 30 minutes, answers 451 at RCPT until
2 hours, then accepts; mx2 (preference 20) refuses throughout. Each MTA looks the domain up in
the harness DNS, meets the refusals, then the 451s on mx1's addresses, and delivers to mx1 once
it accepts. Every connection is read off the wire, so the refused ones are evidence too.
(It also covers what a target-level test used to: both MTAs look the domain up in the harness
DNS on the MX network and fall back from a refusing host to the next.)
"""

from __future__ import annotations

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.results import CaseResult
from harness.scenarios import Tier, parse_scenario
from harness.targets import target_class, target_names

HOUR = 3600.0
REFUSED_UNTIL, ANSWERS_451_UNTIL = 0.5 * HOUR, 2 * HOUR

PRIMARY_CHANGES = """
[scenario]
id = "mx-primary-changes"
kind = "dns"
description = "mx1 refuses for 30 min, answers 451 at RCPT until 2 h, then accepts; mx2 refuses."
observe = "6h"
checks = ["mx-hosts-tried", "mx-preference-order", "queued-not-bounced", "delivered-after-recovery"]

[[mx]]
host = "mx1"
preference = 10
refuse_until = "30m"

[[mx]]
host = "mx2"
preference = 20
refuse_until = "forever"

[[rule]]
listener = "mx1.*"
stage = "rcpt"
before = "2h"
reply = "451 4.3.0 temporarily unavailable, try again later"
"""


#: The senders that retry and look up MX themselves: the no-queue control meets the refusal
#: once and is done; a relay to one smarthost (nullmailer) looks up no MX (its cell is n/a).
QUEUEING = [
    name
    for name in target_names()
    if target_class(name).queues and target_class(name).dns_not_applicable is None
]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CaseResult]:
    scenario = parse_scenario(PRIMARY_CHANGES)
    # k = 240: the refusal lasts 7.5 wall seconds, the 451s 22.5 more, both MTAs at once.
    run = MatrixRun(QUEUEING, [scenario], tmp_path_factory.mktemp("mx"), {Tier.FINE: 240.0})
    return {case.target: case for case in run_matrix(run).cases}


@pytest.mark.docker
@pytest.mark.parametrize("target", QUEUEING)
def test_fates_and_per_host_attempts_follow_the_primarys_fault(
    cases: dict[str, CaseResult], target: str
) -> None:
    case = cases[target]
    assert case.error is None, (case.error, case.connections, case.attempts)
    assert case.verdict == "pass", [c.detail for c in case.checks]
    u = case.time_uncertainty or 0.0
    primary = [c for c in case.connections if c.host == "mx1"]
    secondary = [c for c in case.connections if c.host == "mx2"]
    # The refusal window: connections to mx1 are refused while it lasts, answered after.
    assert [c.outcome for c in primary if c.t < REFUSED_UNTIL - u] != []
    assert {c.outcome for c in primary if c.t < REFUSED_UNTIL - u} == {"refused"}, primary
    assert {c.outcome for c in primary if c.t > REFUSED_UNTIL + u} == {"session"}, primary
    # mx2 refuses for ever: tried (the sender goes on to the next MX), never answered.
    assert secondary, case.connections
    assert {c.outcome for c in secondary} == {"refused"}, secondary
    # Sessions on mx1 while the 451s last get 451; the delivery comes after, on mx1.
    # OpenSMTPD also opens spare sessions that say EHLO and quit, naming no message: those
    # are no delivery attempt (the checks leave them out the same way)
    sessions = [
        a
        for a in case.attempts
        if a.listener.startswith("mx1.") and (a.message_id or not (a.reply or "").startswith("2"))
    ]
    during = [a for a in sessions if REFUSED_UNTIL - u < a.t < ANSWERS_451_UNTIL - u]
    assert during, sessions
    assert all((a.reply or "").startswith("451") for a in during), sessions
    delivered = [a for a in sessions if (a.reply or "").startswith("250")]
    assert len(delivered) == 1, sessions
    assert delivered[0].t > ANSWERS_451_UNTIL - u, sessions
    assert case.fates["delivered"] == 1, case.fates
    # Every session was on mx1: no attempt reached a host that refuses.
    assert {a.listener.split(".")[0] for a in case.attempts} == {"mx1"}
    # The lookups came first: the domain's MX before the first connection.
    first_mx = min(q.t for q in case.lookups if q.rtype == "MX")
    assert first_mx <= case.connections[0].t
