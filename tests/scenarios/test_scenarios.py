"""The scenario catalogue and the scenario file format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness import PlanError
from harness.scenarios import Kind, Tier, load_catalogue, load_scenario, parse_scenario, select

#: The stable ids of docs/conformance.md users pin baselines on (the DNS/MX ones come later).
CATALOGUE_IDS = [
    "greeting-421",
    "greeting-554",
    "greeting-521",
    "ehlo-421",
    "mail-451",
    "mail-550",
    "rcpt-450",
    "rcpt-451",
    "rcpt-550",
    "rcpt-552",
    "rcpt-452-too-many",
    "rcpt-452-too-many-no-pipelining",
    "rcpt-mixed",
    "data-451",
    "bdat-451",
    "data-554",
    "bdat-554",
    "eod-451",
    "eod-552",
    "eod-554",
    "code-class-mismatch-450-5.1.1",
    "code-class-mismatch-550-4.2.0",
    "refused",
    "blackhole",
    "disconnect-mid-data",
    "disconnect-mid-chunk",
    "disconnect-after-dot",
    "stall-after-dot",
    "slow-greeting",
    "stall-after-dot-uncommitted",
    "greylist",
    "outage-then-recover",
    "rate-limit-421",
    "outage-72h-550",
    "outage-72h-451",
    "outage-72h-refused",
    "outage-72h-blackhole",
    "outage-132h-451",
    "mx-primary-refused",
    "mx-primary-421",
    "mx-primary-451",
    "mx-primary-550",
    "mx-primary-5xx-greeting",
    "mx-primary-blackhole",
    "mx-all-down",
    "mx-equal-preference",
    "null-mx",
    "dns-servfail",
    "dns-nxdomain",
    "dns-timeout",
    "no-mx-a-fallback",
    "mx-aaaa-blackhole",
    "mx-ipv6-only-550",
    "outage-72h-refused-2mx",
    "outage-72h-550-2mx",
]


def test_catalogue_has_every_stable_id_once_in_family_order() -> None:
    catalogue = load_catalogue()
    assert [s.id for s in catalogue] == CATALOGUE_IDS
    kinds = [s.kind for s in catalogue]
    assert kinds == sorted(kinds, key=list(Kind).index)
    assert {s.tier for s in catalogue if s.kind is Kind.OUTAGE} == {Tier.COARSE}
    assert all(s.checks for s in catalogue)


def test_outage_replays_mean_what_they_say() -> None:
    by_id = {s.id: s for s in load_catalogue()}
    libero = by_id["outage-72h-550"]
    [rule] = libero.plan.rules
    assert rule.match.before == 72 * 3600
    assert (libero.messages, libero.spread, libero.observe) == (3, 48 * 3600, 96 * 3600)
    assert by_id["outage-72h-refused"].refuse_until == 72 * 3600
    assert by_id["refused"].refuse_until == math.inf


def test_select_by_glob_keeps_catalogue_order() -> None:
    chosen = select(load_catalogue(), ["rcpt-45*", "greeting-421"])
    assert [s.id for s in chosen] == [
        "greeting-421",
        "rcpt-450",
        "rcpt-451",
        "rcpt-452-too-many",
        "rcpt-452-too-many-no-pipelining",
    ]
    with pytest.raises(PlanError, match="no scenario matches nope"):
        select(load_catalogue(), ["nope"])


def test_a_users_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[scenario]\nid = "my-451"\nobserve = "30m"\nmessages = 2\nchecks = ["retried"]\n'
        '[[rule]]\nstage = "rcpt"\nreply = "451 4.3.0 mine"\n'
    )
    scenario = load_scenario(path)
    assert (scenario.id, scenario.observe, scenario.messages, scenario.tier) == (
        "my-451",
        1800,
        2,
        Tier.FINE,
    )
    assert scenario.domain == "my-451.mailstorm.test"
    assert scenario.plan.rules[0].action.outcome.code == 451  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[rule]]\nstage = "rcpt"\nreply = "451 x"', "a [scenario] table is required"),
        ('[scenario]\nid = "Bad Id"', "key 'scenario.id'"),
        ('[scenario]\nid = "x"\ncolour = 1', "key 'scenario.colour': unknown key"),
        ('[scenario]\nid = "x"\ntier = "medium"', "must be one of fine, coarse"),
        ('[scenario]\nid = "x"\nchecks = ["retried", "vibes"]', "unknown check 'vibes'"),
        ('[scenario]\nid = "x"\nobserve = "soon"', "key 'scenario.observe'"),
        ('[scenario]\nid = "x"\nrecipients = []', "non-empty list of local parts"),
        ('[scenario]\nid = "x"\nmessages = 0', "whole number >= 1"),
        ('[scenario]\nid = "x"\n[[rule]]\nstage = "rpct"\nreply = "451 x"', "rule 1 (line 3)"),
    ],
)
def test_mistakes_name_the_file_and_key(text: str, problem: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_scenario(text, source="mine.toml")
    assert str(caught.value).startswith("mine.toml: ")
    assert problem in str(caught.value)
