"""Proof of exercise for MX hosts: a refusing host must have refused, unless the sender never
tried that host at all (then it is the sender's choice, judged by the checks, not an error)."""

from __future__ import annotations

from harness.cases.exercise import mx_exercise, not_exercised
from harness.ledger import CaseEvidence
from harness.results import Connection
from harness.scenarios import load_catalogue, select

[ALL_DOWN] = select(load_catalogue(), ["mx-all-down"])


def evidence(*hosts: str) -> CaseEvidence:
    connections = tuple(
        Connection(t=float(n), host=h, family="ipv4", address=f"10.0.0.{n}", outcome="refused")
        for n, h in enumerate(hosts)
    )
    return CaseEvidence((), (), (), (), (), observed_for=7200, connections=connections)


def test_both_hosts_refused_is_exercised() -> None:
    assert not_exercised(mx_exercise(ALL_DOWN, evidence("mx1", "mx2", "mx1"))) is None


def test_a_host_the_sender_never_tried_is_its_choice_not_an_error() -> None:
    exercise = mx_exercise(ALL_DOWN, evidence("mx1"))
    assert not_exercised(exercise) is None
    [untried] = [e for e in exercise if "mx2" in e.fault]
    assert (untried.needed, untried.fired) == (0, 0)
    assert "never tried: the sender connected only to mx1" in untried.fault


def test_no_connection_at_all_is_an_error() -> None:
    problem = not_exercised(mx_exercise(ALL_DOWN, evidence()))
    assert problem is not None
    assert "MX host mx1 refuses connections fired 0 time(s)" in problem
