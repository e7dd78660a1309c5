"""msmtp's driver without a container: its log as records, on real lines (`data/msmtp/
outcomes.log`, msmtp 1.8.28: delivered, 450 at RCPT, 550 at RCPT, 451 after the dot, refused),
and its routing: an account per routed domain, a message to exactly one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.targets import BOUNCE_DOMAIN, REFUSED_FIELD, LogRecord, RouteTable
from harness.targets.base import TargetError
from harness.targets.msmtp.driver import MsmtpTarget
from harness.targets.routes import Hop

LOG = Path(__file__).parent / "data" / "msmtp" / "outcomes.log"


def target() -> MsmtpTarget:
    routes = RouteTable.of(
        {"a.test": [Hop("172.17.0.1", 4001)], BOUNCE_DOMAIN: [Hop("172.17.0.1", 4002)]}
    )
    return MsmtpTarget(routes, time_scale=60)  # not started: parsing needs no container


def parsed() -> list[LogRecord]:
    reader = target()
    return [r for line in LOG.read_text().splitlines() if (r := reader.parse_log_line(line))]


def test_each_outcome_is_one_record_keyed_by_its_envelope_sender() -> None:
    records = parsed()
    assert [r.fields["recipients"].split("@")[1] for r in records] == [
        "ok.test",
        "t450.test",
        "t550.test",
        "eod.test",
        "refused.test",
    ]
    assert all(r.queue_id == r.fields["from"] for r in records)
    assert len({r.queue_id for r in records}) == 5
    assert [r.fields["exitcode"] for r in records] == [
        "EX_OK",
        "EX_UNAVAILABLE",
        "EX_DATAERR",
        "EX_UNAVAILABLE",
        "EX_TEMPFAIL",
    ]
    assert records[1].text == (
        "450 4.2.0 busy; recipient address user@t450.test not accepted by the server"
    )
    assert records[0].time is not None
    assert records[0].time.tzinfo is not None


def test_only_the_refused_connection_is_a_refused_attempt() -> None:
    key, value = REFUSED_FIELD
    assert [r.fields.get(key) == value for r in parsed()] == [False] * 4 + [True]


def test_a_line_that_is_no_outcome_is_said_so() -> None:
    reader = target()
    assert reader.parse_log_line("") is None
    with pytest.raises(TargetError, match="cannot read"):
        reader.parse_log_line("2026-12-05T02:30:02Z host=172.17.0.1 tls=off")


def test_a_message_goes_to_the_account_of_its_one_routed_domain() -> None:
    command = target().submit_command("s@x.test", ["u@a.test", "v@A.test"])
    assert command[1:3] == ["-a", "a.test"]
    assert command[-3:] == ["--", "u@a.test", "v@A.test"]
    with pytest.raises(TargetError, match="one routed domain"):
        target().submit_command("s@x.test", ["u@a.test", "u@elsewhere.test"])
    with pytest.raises(TargetError, match="one routed domain"):
        target().submit_command("s@x.test", ["u@unrouted.test"])
