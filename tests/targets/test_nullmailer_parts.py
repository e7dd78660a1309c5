"""nullmailer's driver without a container: its log as one record per attempt, on real lines
(`data/nullmailer/outcomes.log`, nullmailer 2.2: sent, 450 at RCPT retried, 550 at RCPT
bounced with its DSN sent to the smarthost; `refused.log`: a refused connection retried), its
queue listing, and its one smarthost."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.targets import BOUNCE_DOMAIN, REFUSED_FIELD, LogRecord, RouteTable
from harness.targets.base import TargetError
from harness.targets.nullmailer.driver import (
    NullmailerTarget,
    delivery_records,
    parse_queue_listing,
)
from harness.targets.routes import Hop

DATA = Path(__file__).parent / "data" / "nullmailer"
SMARTHOST = Hop("172.17.0.1", 4001)


def target(routes: dict[str, list[Hop]] | None = None) -> NullmailerTarget:
    table = routes or {"a.test": [SMARTHOST], BOUNCE_DOMAIN: [Hop("172.17.0.1", 4002)]}
    return NullmailerTarget(RouteTable.of(table), time_scale=60)  # not started: no container


def records(name: str) -> list[LogRecord]:
    reader = target()
    lines = (DATA / name).read_text().splitlines()
    return delivery_records([r for line in lines if (r := reader.parse_log_line(line))])


def by_recipient(found: list[LogRecord], domain: str) -> list[LogRecord]:
    return [r for r in found if r.fields.get("to", "").endswith(f"@{domain}")]


def test_each_attempt_is_one_record_with_its_outcome_keyed_by_its_queue_file() -> None:
    found = records("outcomes.log")
    [sent] = by_recipient(found, "ok.test")
    assert sent.fields["status"] == "sent"
    assert sent.fields["relay"] == "172.17.0.1"
    assert sent.text == "250 2.0.0 OK queued as 1"
    deferred = by_recipient(found, "temp.test")
    assert [r.fields["status"] for r in deferred] == ["deferred"] * 4
    assert {r.queue_id for r in deferred} == {"1796450311.122"}
    assert deferred[0].text == "450 4.2.0 busy; Temporary error in sending the message"
    # Every record of a message names its envelope sender: queue_ids_of finds the file.
    assert len({r.fields["from"] for r in deferred}) == 1
    assert all(r.time is not None for r in found)


def test_a_permanent_failure_is_bounced_and_its_dsn_is_another_queue_file() -> None:
    found = records("outcomes.log")
    [attempt] = by_recipient(found, "perm.test")
    assert attempt.fields["status"] == "bounced"
    assert "550 5.1.1 <c@perm.test> recipient rejected" in attempt.text
    [moved] = [r for r in found if r.queue_id == attempt.queue_id and r is not attempt]
    assert moved.fields == {"from": attempt.fields["from"], "status": "bounced"}
    # The DSN, from the null sender to the message's sender, went to the same smarthost.
    [dsn] = [r for r in found if r.fields.get("from") == ""]
    assert dsn.fields["to"] == attempt.fields["from"]
    assert dsn.fields["status"] == "sent"
    assert dsn.queue_id != attempt.queue_id


def test_a_refused_connection_is_a_refused_attempt_that_reached_nobody() -> None:
    found = records("refused.log")
    assert len(found) >= 2
    key, value = REFUSED_FIELD
    assert all(r.fields[key] == value for r in found)
    assert all(r.fields["relay"] == "none" and r.fields["status"] == "deferred" for r in found)
    assert found[0].text == "connect to 172.17.0.1 failed: Connect failed; Connection refused"
    assert found[0].fields["to"] == "user@receiver.test, other@receiver.test"


def test_the_queue_listing_gives_sender_recipients_and_arrival() -> None:
    sender = "mailstorm+ms3828f1badc164a1ab08da478f92842d8@bounces.mailstorm.test"
    listing = f"== 1796450313.101 1796450300\n{sender}\nuser@a.test\nother@a.test\n\n"
    [queued] = parse_queue_listing(listing)
    assert queued.queue_id == "1796450313.101"
    assert queued.message_id == "ms3828f1badc164a1ab08da478f92842d8"
    assert [r.address for r in queued.recipients] == ["user@a.test", "other@a.test"]
    assert queued.arrival is not None
    assert queued.arrival.timestamp() == 1796450300
    assert parse_queue_listing("") == []
    with pytest.raises(TargetError, match="queue file it cannot read"):
        parse_queue_listing("== 1796450313.101 soon\n")


def test_every_message_goes_to_the_one_smarthost_and_the_bounce_route_is_not_its() -> None:
    assert target().smarthost() == SMARTHOST
    two = {"a.test": [SMARTHOST], "b.test": [Hop("172.17.0.1", 4003)]}
    with pytest.raises(TargetError, match="one smarthost; the routes name 2 next hops"):
        target({**two, BOUNCE_DOMAIN: [SMARTHOST]}).smarthost()
