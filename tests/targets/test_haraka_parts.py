"""Haraka's driver without a container: its JSON log as records, on real lines (Haraka 3.1.6 at
x60): `data/haraka/outcomes.log` holds one message to a@, b@ and c@ (250, 450 at RCPT and
retried, 550 at RCPT and bounced, the DSN delivered) and one to a domain routed to a port
that refuses, retried; its routes as get_mx answers; its schedule's constants."""

from __future__ import annotations

import json
from pathlib import Path

from harness.message_ids import id_from_address
from harness.targets import BOUNCE_DOMAIN, DECISION_FIELD, REFUSED_FIELD, LogRecord, RouteTable
from harness.targets.haraka.driver import (
    GIVE_UP,
    INTERVALS,
    HarakaTarget,
    parse_log_line,
    per_recipient,
)
from harness.targets.routes import Hop

DATA = Path(__file__).parent / "data" / "haraka"
MIXED = "ms06b891d0bb5e4fa7bf80e6d415fb2079"
REFUSED = "mscfbd22729f7c4eabbc5fdcf67c82d84c"


def records() -> list[LogRecord]:
    lines = (DATA / "outcomes.log").read_text().splitlines()
    return per_recipient([r for line in lines if (r := parse_log_line(line))])


def of(found: list[LogRecord], message_id: str) -> list[LogRecord]:
    return [r for r in found if id_from_address(r.fields.get("from", "")) == message_id]


def test_each_recipient_has_its_own_outcome_and_the_envelope() -> None:
    mixed = [r for r in of(records(), MIXED) if "status" in r.fields]
    by_recipient = {
        to: [r.fields["status"] for r in mixed if r.fields["to"] == to]
        for to in ("a@receiver.test", "b@receiver.test", "c@receiver.test")
    }
    assert by_recipient == {
        "a@receiver.test": ["sent"],
        "b@receiver.test": ["deferred", "deferred", "deferred"],
        "c@receiver.test": ["bounced"],
    }
    assert {r.queue_id for r in mixed} == {"57155510-718B-4ED5-9887-1EDFA2472445.1.1"}
    assert all(r.fields["relay"] == "172.17.0.1:34425" for r in mixed)
    assert [r.fields["attempts"] for r in mixed if r.fields["to"] == "b@receiver.test"] == [
        "1",
        "2",
        "3",
    ]
    assert all(r.time is not None and r.time.tzinfo is not None for r in mixed)


def test_the_dsn_is_a_record_from_the_null_sender_to_the_envelope_sender() -> None:
    [dsn] = [r for r in records() if r.fields.get("from") == "" and "status" in r.fields]
    assert dsn.fields["status"] == "sent"
    assert id_from_address(dsn.fields["to"]) == MIXED


def test_a_refused_connection_is_one_attempt_and_the_deferral_after_it_is_none() -> None:
    found = [r for r in of(records(), REFUSED) if "status" in r.fields]
    refused = [r for r in found if r.fields.get(REFUSED_FIELD[0]) == REFUSED_FIELD[1]]
    deferrals = [r for r in found if r.fields.get("reason") == "Tried all MXs"]
    assert len(refused) == len(deferrals) == 3
    assert all(r.fields["relay"] == "none" for r in found)
    # the connection record takes its envelope from the hmail's own records
    assert {r.fields["to"] for r in refused} == {"x@refused.test"}


def test_every_try_starts_with_a_decision_record() -> None:
    found = records()
    decisions = [r for r in found if r.fields.get(DECISION_FIELD[0]) == DECISION_FIELD[1]]
    per_message = {
        message: sum(1 for r in decisions if id_from_address(r.fields["from"]) == message)
        for message in (MIXED, REFUSED)
    }
    # one get_mx per try: three each (the first delivery and two retries), one for the DSN
    assert per_message == {MIXED: 3, REFUSED: 3}
    assert sum(1 for r in decisions if r.fields["from"] == "") == 1


def test_lines_of_other_origins_and_other_shapes_are_not_records() -> None:
    assert parse_log_line("loaded TLD files: 1=1437 2=7876 3=3795") is None
    assert parse_log_line('2026-12-05T12:00:00.000Z {"level":"INFO","uuid":"-"}') is None
    connect = (
        '2026-12-05T12:00:00.000Z {"level":"NOTICE","uuid":"X.1","origin":"core",'
        '"message":"connect","ip":"127.0.0.1"}'
    )
    assert parse_log_line(connect) is None
    assert parse_log_line("2026-12-05T12:00:00.000Z {not json}") is None


def test_routes_become_get_mx_answers_in_their_order() -> None:
    table = RouteTable.of(
        {"a.test": [Hop("172.17.0.1", 2525), Hop("fd00::2", 2526)], BOUNCE_DOMAIN: [Hop("h", 1)]}
    )
    target = HarakaTarget(table, time_scale=60)  # not started: no container
    answers = json.loads(json.dumps(target.route_map()))
    assert answers["a.test"] == [
        {"exchange": "172.17.0.1", "port": 2525, "priority": 10},
        {"exchange": "fd00::2", "port": 2526, "priority": 20},
    ]
    assert set(answers) == {"a.test", BOUNCE_DOMAIN}


def test_the_stock_schedule_is_twelve_doublings_from_64_seconds() -> None:
    assert INTERVALS[:3] == (64.0, 128.0, 256.0)
    assert len(INTERVALS) == 12
    assert GIVE_UP[1] == 2**18 - 64  # 72.8 hours
    target = HarakaTarget(RouteTable.of({BOUNCE_DOMAIN: [Hop("h", 1)]}), time_scale=2880)
    target.scaling = target.scale_time()
    earliest, latest = target.give_up_window()
    assert earliest == 2**18 - 64
    assert latest > earliest
