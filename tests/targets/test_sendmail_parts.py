"""Sendmail's driver without a container: its log as records, on real lines
(`data/sendmail/delivery.log`, Sendmail 8.18.1 under busybox's syslogd, stitched from runs at
x60), the mailers it adds per receiver port, and Sendmail's time values."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.ledger import logged_attempts
from harness.targets import BOUNCE_DOMAIN, REFUSED_FIELD, LogRecord, RouteTable
from harness.targets.base import TargetError
from harness.targets.routes import Hop
from harness.targets.sendmail.driver import (
    SendmailTarget,
    kernel_connect_timeout,
    mailertable_host,
    port_mailer,
    sendmail_seconds,
    with_option,
    with_port_mailers,
)

LOG = Path(__file__).parent / "data" / "sendmail" / "delivery.log"
#: Debian's esmtp mailer as m4 writes it into sendmail.cf (sendmail-cf 8.18.1-6).
ESMTP = (
    "Mesmtp,\t\tP=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\\r\\n, L=990,\n"
    "\t\tT=DNS/RFC822/SMTP,\n"
    "\t\tA=TCP $h\n"
)
CF = f"O QueueDirectory=/var/spool/mqueue\n{ESMTP}Msmtp8,\t\tP=[IPC], F=mDFMuX8\n"


def parsed() -> list[LogRecord]:
    routes = RouteTable.of({BOUNCE_DOMAIN: [Hop("172.17.0.1", 46343)]})
    target = SendmailTarget(routes, time_scale=60)  # not started: parsing needs no container
    return [r for line in LOG.read_text().splitlines() if (r := target.parse_log_line(line))]


def test_deliveries_carry_status_relay_and_the_reason_with_its_commas() -> None:
    deliveries = {r.fields["to"]: r for r in parsed() if "to" in r.fields}
    greeting = deliveries["user@greeting-421.mailstorm.test"]
    assert greeting.fields["status"] == "deferred"
    assert greeting.fields["reason"] == "421 4.3.2 service not available, closing"
    assert greeting.fields["relay"] == "[172.30.0.10] [172.30.0.10]"
    assert greeting.queue_id == "6B4Nl8wV000178"
    rejected = deliveries["user@rcpt-550.mailstorm.test"]
    assert (rejected.fields["status"], rejected.fields["dsn"]) == ("bounced", "5.1.1")
    dsn = deliveries["mailstorm+ms86e0dae236064822af2847e797625306@bounces.mailstorm.test"]
    assert dsn.fields["status"] == "sent"
    assert dsn.fields["mailer"] == "mstorm46343"
    # queued without an attempt (the DNS answered REFUSED then): not a bounce, not an attempt
    assert deliveries["user@queued.mailstorm.test"].fields["status"] == "queued"


def test_a_refused_connection_is_an_attempt_that_never_reached_the_receiver() -> None:
    records = parsed()
    key, value = REFUSED_FIELD
    refused = [r for r in records if r.fields.get(key) == value]
    assert [r.fields["to"] for r in refused] == ["x@d.test"]
    sender = "mailstorm+mse0f6cc3ca7684ffa840a120212ee2825@bounces.mailstorm.test"
    attempts = logged_attempts(records, sender)
    assert [a.reached_receiver for a in attempts] == [False]
    greeting = "mailstorm+ms50ded3cb774044568e7fe580a90c9991@bounces.mailstorm.test"
    assert [a.reached_receiver for a in logged_attempts(records, greeting)] == [True]


def test_stamps_have_their_year_and_daemon_lines_their_process() -> None:
    records = parsed()
    assert all(r.time is not None and r.time.month == 12 for r in records)
    assert {r.process for r in records} == {"sendmail"}  # syslogd's own line is not Sendmail's


def test_each_port_but_25_gets_a_copy_of_esmtp_connecting_to_it() -> None:
    cf = with_port_mailers(CF, [25, 2525, 2525, 9])
    assert cf.count("Mesmtp,") == 1
    assert "Mmstorm2525,\t\tP=[IPC], F=mDFMuXa" in cf
    assert "\t\tA=TCP $h 2525\n" in cf
    assert "\t\tA=TCP $h 9\n" in cf
    assert cf.index("Mmstorm9,") > cf.index("Mesmtp,")
    assert cf.rstrip().endswith("F=mDFMuX8")
    assert port_mailer(25) == "esmtp"
    assert port_mailer(9) == "mstorm9"
    assert mailertable_host(Hop("fd00::b", 25)) == "[IPv6:fd00::b]"
    with pytest.raises(TargetError, match="at most 25 mailers"):
        with_port_mailers(CF, list(range(1000, 1020)))
    with pytest.raises(TargetError, match="no esmtp mailer"):
        with_port_mailers("O QueueDirectory=/x\n", [9])


def test_time_values_with_units_and_a_default_unit() -> None:
    assert sendmail_seconds("10m") == 600
    assert sendmail_seconds("1h30m") == 5400
    assert sendmail_seconds('"5d"') == 5 * 86400
    assert sendmail_seconds("10", default_unit="m") == 600
    with pytest.raises(TargetError, match="not a Sendmail time value"):
        sendmail_seconds("ten minutes")


def test_the_kernels_connect_timeout_becomes_sendmails_own_under_a_warp() -> None:
    assert kernel_connect_timeout(6) == 127  # Linux's default tcp_syn_retries
    cf = "O QueueDirectory=/var/spool/mqueue\n#O Timeout.connect=5m\nO Timeout.iconnect=2m\n"
    assert "\nO Timeout.connect=127s\n" in with_option(cf, "Timeout.connect", "127s")
    assert "#O Timeout.connect" not in with_option(cf, "Timeout.connect", "127s")
    bare = with_option("O QueueDirectory=/q\nO X=1\n", "Timeout.connect", "127s")
    assert bare == "O QueueDirectory=/q\nO Timeout.connect=127s\nO X=1\n"
