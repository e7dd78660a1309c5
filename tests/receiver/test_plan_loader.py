"""Fault plans from TOML: what valid plans mean, and how every kind of mistake is reported."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness import PlanError, load_plan, parse_plan, plan_from_mapping
from harness.receiver import Accept, AttemptRange, Drop, DropMode, Reply, Stage


def test_full_rule_means_what_it_says() -> None:
    plan = parse_plan(
        """
        name = "libero"
        description = "January 2023"
        seed = 3
        [[rule]]
        name = "reject"
        stage = ["rcpt", "end-of-data"]
        recipient_domain = "libero.test"
        sender = { regex = "^mailstorm\\\\+" }
        message_attempt = "2-"
        pair_attempt = { min = 1, max = 3 }
        after = "1h"
        before = "3d"
        sessions_above = 5
        greylist = "5m"
        probability = 0.5
        stall = "90s"
        min_fired = 3
        reply = "550 5.1.1 <{recipient}> recipient rejected"
        """
    )
    [rule] = plan.rules
    assert (plan.name, plan.description, plan.seed) == ("libero", "January 2023", 3)
    assert rule.match.stages == {Stage.RCPT, Stage.EOD}
    assert rule.match.recipient_domain[0].matches("LIBERO.test")
    assert rule.match.sender[0].matches("mailstorm+ms1@x.test")
    assert not rule.match.sender[0].matches("other@x.test")
    assert rule.match.message_attempt == AttemptRange(2, None)
    assert rule.match.pair_attempt == AttemptRange(1, 3)
    assert (rule.match.after, rule.match.before) == (3600, 3 * 86400)
    assert (rule.match.sessions_above, rule.match.greylist, rule.match.probability) == (5, 300, 0.5)
    assert rule.action.stall == 90
    assert rule.min_fired == 3
    assert rule.describe() == "rule 1 'reject' (eod/rcpt: stall 90s, then 550 5.1.1)"
    assert rule.action.outcome == Reply(550, "5.1.1", ("<{recipient}> recipient rejected",), False)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('"250 ok"', Reply(250, None, ("ok",), False)),
        ('"421 4.7.0 busy"', Reply(421, "4.7.0", ("busy",), True)),
        ('"554"', Reply(554, None, ("",), False)),
        ('"450 5.1.1 class mismatch"', Reply(450, "5.1.1", ("class mismatch",), False)),
        (
            '{ code = 421, text = ["a", "b"], close = false }',
            Reply(421, None, ("a", "b"), False),
        ),
    ],
)
def test_reply_forms(reply: str, expected: Reply) -> None:
    [rule] = parse_plan(f'[[rule]]\nstage = "rcpt"\nreply = {reply}').rules
    assert rule.action.outcome == expected


def test_reply_renders_multiline_with_placeholders() -> None:
    reply = Reply(550, "5.1.1", ("<{recipient}> rejected", "see {unknown}"))
    assert reply.render({"recipient": "u@l.test"}) == (
        "550-5.1.1 <u@l.test> rejected\r\n550 5.1.1 see {unknown}"
    )


def test_outcomes_and_defaults() -> None:
    plan = parse_plan(
        '[[rule]]\nstage = "greeting"\nstall = "forever"\n'
        '[[rule]]\nstage = "data"\ndrop = "mid-data"\ndrop_after_bytes = 10\n'
        '[[rule]]\nstage = "eod"\ndrop = "after-dot"\n'
        '[[rule]]\nstage = "connect"\naccept = true\n'
    )
    stall, mid, after, accept = plan.rules
    assert math.isinf(stall.action.stall)
    assert stall.action.outcome == Accept()
    assert mid.action.outcome == Drop(DropMode.MID_DATA, 10)
    assert after.action.outcome == Drop(DropMode.AFTER_DOT)
    assert accept.match.stages == {Stage.GREETING}
    assert [rule.name for rule in plan.rules] == ["rule 1", "rule 2", "rule 3", "rule 4"]


def test_empty_plan_accepts_everything() -> None:
    plan = parse_plan("", source="empty.toml")
    assert plan.rules == ()
    assert plan.name == "empty"


MISTAKES = [
    ('[[rule]]\nstage = "rcpt"\nreply = "451 x"\nreply = "550 y"', "invalid TOML"),
    ('[[rule]]\nreply = "451 x"', "key 'stage': is required"),
    ('[[rule]]\nstage = "rpct"\nreply = "451 x"', "key 'stage': unknown stage 'rpct'"),
    ('[[rule]]\nstage = []\nreply = "451 x"', "key 'stage': must name at least one stage"),
    ('[[rule]]\nstage = "rcpt"\nrecipent = "a"\nreply = "451 x"', "key 'recipent': unknown key"),
    ('[[rule]]\nstage = "rcpt"\nreply = "45 x"', "key 'reply': must start with a 3-digit code"),
    ('[[rule]]\nstage = "rcpt"\nreply = "651 x"', "code must be from 200 to 599"),
    ('[[rule]]\nstage = "rcpt"\nreply = { code = "451" }', "key 'reply.code': must be a 3-digit"),
    ('[[rule]]\nstage = "rcpt"\nreply = { code = 451, enhanced = "4.x" }', "reply.enhanced"),
    ('[[rule]]\nstage = "rcpt"\nreply = { code = 451, colour = 1 }', "key 'colour': unknown key"),
    ('[[rule]]\nstage = "rcpt"\nreply = { code = 451, text = ["a\\nb"] }', "may not contain CR"),
    ('[[rule]]\nstage = "rcpt"\nreply = "451 {nobody}"', "bad placeholder"),
    ('[[rule]]\nstage = "rcpt"\nreply = "451 x"\naccept = true', "has one outcome"),
    ('[[rule]]\nstage = "rcpt"', "needs an action"),
    ('[[rule]]\nstage = "rcpt"\naccept = false', "key 'accept': can only be true"),
    ('[[rule]]\nstage = "rcpt"\ndrop = "mid-data"', '"mid-data" only applies at stage'),
    ('[[rule]]\nstage = "data"\ndrop = "after-dot"', '"after-dot" only applies at stage'),
    ('[[rule]]\nstage = "eod"\ndrop = "sideways"', "key 'drop': must be one of"),
    ('[[rule]]\nstage = "eod"\ndrop = "after-dot"\ndrop_after_bytes = 3', "only goes with"),
    ('[[rule]]\nstage = "mail"\ngreylist = "5m"\nreply = "451 x"', "not known yet at stage mail"),
    (
        '[[rule]]\nstage = "greeting"\nsender = "a"\nreply = "451 x"',
        "not known yet at stage greeting",
    ),
    ('[[rule]]\nstage = "rcpt"\nstall = "5 minutes"', "key 'stall': '5 minutes' is not a duration"),
    ('[[rule]]\nstage = "rcpt"\nafter = "2h"\nbefore = "1h"\naccept = true', "must be later"),
    ('[[rule]]\nstage = "rcpt"\nprobability = 1.5\naccept = true', "from 0 to 1"),
    ('[[rule]]\nstage = "rcpt"\nmessage_attempt = "3-1"\naccept = true', "empty range"),
    ('[[rule]]\nstage = "rcpt"\nmessage_attempt = 0\naccept = true', "count from 1"),
    ('[[rule]]\nstage = "rcpt"\nsessions_above = -1\naccept = true', "whole number >= 0"),
    ('[[rule]]\nstage = "rcpt"\nmin_fired = "all"\naccept = true', "key 'min_fired': must be"),
    ('[[rule]]\nstage = "rcpt"\nsender = { regex = "(" }\naccept = true', "invalid regex"),
    ('[[rule]]\nstage = "rcpt"\nsender = 5\naccept = true', "must be a glob string"),
    ("seed = 1.5", "key 'seed': must be an integer"),
    ("rules = []", "key 'rules': unknown key at top level"),
    ('rule = "x"', "key 'rule': must be an array of tables"),
]


@pytest.mark.parametrize(("text", "problem"), MISTAKES)
def test_mistakes_are_reported_with_file_and_key(text: str, problem: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, source="plan.toml")
    assert str(caught.value).startswith("plan.toml: ")
    assert problem in str(caught.value)


def test_errors_name_the_rule_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "outage.toml"
    path.write_text(
        'name = "outage"\n\n[[rule]]\nstage = "rcpt"\nreply = "451 x"\n\n'
        '[[rule]]\nstage = "rcpt"\nreply = "451 x"\n\n[[rule]]\nstage = "rcpt"\nbefore = "soon"\n'
    )
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == (
        f"{path}: rule 3 (line 11), key 'before': 'soon' is not a duration "
        "(use e.g. 30s, 5m, 72h, 4d)"
    )


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no such plan file"):
        load_plan(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PlanError, match="cannot read plan"):
        load_plan(binary)


def test_other_sections_are_left_to_the_caller() -> None:
    document = {"scenario": {"id": "rcpt-450"}, "rule": [{"stage": "rcpt", "reply": "450 x"}]}
    with pytest.raises(PlanError, match="unknown key at top level"):
        plan_from_mapping(document)
    plan = plan_from_mapping(document, other_sections=("scenario",))
    assert len(plan.rules) == 1
