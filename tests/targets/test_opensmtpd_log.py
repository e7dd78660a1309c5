"""OpenSMTPD's log as records, on a real log (`data/opensmtpd/refused-neighbour.log`).

The log is from OpenSMTPD 7.6.0 at x60 with two domains on one address: `a.test` routed to a
port where nothing listens, `b.test` to a receiver on another port of the same address. The
refused connection for `a.test` took the whole address down ("Disabling route ... for 15s"), so
`b.test`'s message was deferred without a connection: the reason each static scenario gets an
address of its own (SenderTarget.state_per_address), and what `mark_refused_attempts` must tell
apart, since both deferrals carry the same text.
"""

from __future__ import annotations

from pathlib import Path

from harness.ledger import logged_attempts
from harness.targets import BOUNCE_DOMAIN, HELD_FIELD, REFUSED_FIELD, LogRecord, RouteTable
from harness.targets.opensmtpd.driver import (
    NETWORK_ERROR,
    OpenSmtpdTarget,
    mark_refused_attempts,
)
from harness.targets.routes import Hop

LOG = Path(__file__).parent / "data" / "opensmtpd" / "refused-neighbour.log"
ROUTES = {"a.test": "172.17.0.1:2699", "b.test": "172.17.0.1:2626"}


def parsed() -> list[LogRecord]:
    routes = RouteTable.of({BOUNCE_DOMAIN: [Hop("172.17.0.1", 2626)]})
    target = OpenSmtpdTarget(routes, time_scale=60)  # not started: parsing needs no container
    lines = LOG.read_text().splitlines()
    return [record for line in lines if (record := target.parse_log_line(line))]


def test_envelope_and_delivery_lines_carry_the_message_id_and_sender() -> None:
    records = parsed()
    envelopes = [r for r in records if r.text.startswith("envelope ")]
    assert [r.fields["to"] for r in envelopes] == ["u@a.test", "v@b.test"]
    assert [r.queue_id for r in envelopes] == ["71739173", "1e251936"]
    assert all(r.fields["from"].endswith("@bounces.mailstorm.test") for r in envelopes)
    deliveries = [r for r in records if r.text.startswith("delivery ")]
    assert len(deliveries) == 4
    assert {r.fields["status"] for r in deliveries} == {"deferred"}
    assert {r.fields["reason"] for r in deliveries} == {NETWORK_ERROR}
    assert {r.queue_id for r in deliveries} == {"71739173", "1e251936"}


def test_only_the_deferrals_of_the_refused_destination_are_attempts() -> None:
    records = mark_refused_attempts(parsed(), ROUTES)
    key, value = REFUSED_FIELD
    attempts = [r for r in records if r.fields.get(key) == value]
    assert [r.fields["to"] for r in attempts] == ["u@a.test", "u@a.test"]
    refusals = [r for r in records if r.text.startswith("error ") and "refused" in r.text]
    # each attempt is stamped when its connection was refused, not when the envelope was told
    assert [r.time for r in attempts] == [r.time for r in refusals]
    held = [r for r in records if r.fields.get("to") == "v@b.test" and "delivery" in r.text]
    assert len(held) == 2
    assert all(r.fields.get(key) == HELD_FIELD[1] for r in held)  # deferred unseen


def test_without_the_route_to_tell_ports_apart_the_neighbour_is_not_counted() -> None:
    # An MX-routed domain falls back to port 25: a refusal on port 2699 is not its attempt.
    records = mark_refused_attempts(parsed(), {})
    key, value = REFUSED_FIELD
    assert not [r for r in records if r.fields.get(key) == value]


#: A real deferral of a relay that failed as a whole (from the reference run's dns-servfail).
MX_LOOKUP_FAILED = (
    "1796419237.123456789 0000000000000000 mta delivery evpid=269514365ae99279 "
    "from=<mailstorm+ms19f21fb18c6d4322828037c9115cc982@bounces.mailstorm.test> "
    'to=<user@dns-servfail.mailstorm.test> rcpt=<-> source="-" '
    'relay="dns-servfail.mailstorm.test" delay=1s result="TempFail" '
    'stat="Temporary failure in MX lookup"'
)


def test_a_relay_that_failed_before_any_connection_names_no_host() -> None:
    # OpenSMTPD logs the domain as the relay (mta.c, mta_flush): the clock check took it for a
    # session and declared the warp untrusted in three reference cells.
    routes = RouteTable.of({BOUNCE_DOMAIN: [Hop("172.17.0.1", 2626)]})
    record = OpenSmtpdTarget(routes, time_scale=60).parse_log_line(MX_LOOKUP_FAILED)
    assert record is not None
    assert record.fields["status"] == "deferred"
    assert record.fields["relay"] == "none"
    assert record.fields["relay_domain"] == "dns-servfail.mailstorm.test"
    assert logged_attempts([record], record.fields["from"]) == []
