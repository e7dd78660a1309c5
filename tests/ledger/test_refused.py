"""Refused connections read from real Postfix and Exim log lines, per message, in real time."""

from __future__ import annotations

import datetime
from pathlib import Path

from harness.ledger import (
    held_by_refusals,
    is_held_by_refusals,
    is_refused_attempt,
    refused_attempts,
)
from harness.targets import BOUNCE_DOMAIN, LogRecord, RouteTable
from harness.targets.exim.parsers import parse_log_line as parse_exim
from harness.targets.postfix import PostfixTarget

EXIM_LOG = Path(__file__).parents[1] / "targets" / "data" / "exim" / "mainlog.txt"
EXIM_SENDER = "mailstorm+ms8b08ca151d284adf89a70061ae4a4e8d@bounces.mailstorm.test"
POSTFIX_SENDER = "mailstorm+ms1@bounces.mailstorm.test"
POSTFIX_LINES = [
    f"Nov 24 02:28:30 sender postfix/qmgr[113]: C6D3E1741FE: from=<{POSTFIX_SENDER}>, "
    "size=378, nrcpt=1 (queue active)",
    "Nov 24 02:28:30 sender postfix/smtp[135]: C6D3E1741FE: to=<user@r.test>, relay=none, "
    "delay=0.03, delays=0.02/0/0.01/0, dsn=4.4.1, status=deferred (connect to "
    "172.17.0.1[172.17.0.1]:40001: Connection refused)",
    # Postfix skipping a destination it marked dead: no connection was made.
    "Nov 24 02:28:31 sender postfix/qmgr[113]: C6D3E1741FE: to=<user@r.test>, relay=none, "
    "delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: "
    "connect to 172.17.0.1[172.17.0.1]:40001: Connection refused)",
    "Nov 24 02:28:32 sender postfix/smtp[135]: C6D3E1741FE: to=<user@r.test>, relay=none, "
    "delay=2, delays=2/0/0/0, dsn=4.4.1, status=deferred (connect to "
    "172.17.0.1[172.17.0.1]:40001: Connection refused)",
    # Another message's refusal.
    "Nov 24 02:28:32 sender postfix/smtp[136]: D00D1741FE: to=<other@r.test>, relay=none, "
    "delay=2, delays=2/0/0/0, dsn=4.4.1, status=deferred (connect to "
    "172.17.0.1[172.17.0.1]:40002: Connection refused)",
]


def postfix_records() -> list[LogRecord]:
    target = PostfixTarget(RouteTable.to_one(["r.test", BOUNCE_DOMAIN], "127.0.0.1", 25))
    return [r for line in POSTFIX_LINES if (r := target.parse_log_line(line))]


def stamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


def test_postfix_attempts_are_its_refused_deferrals_not_suspended_ones() -> None:
    records = postfix_records()
    assert [is_refused_attempt(r) for r in records] == [False, True, False, True, True]
    start = records[1].time
    assert start is not None
    attempts = refused_attempts(
        records,
        sender=POSTFIX_SENDER,
        message_id="ms1",
        start_wall=start.timestamp(),
        time_scale=60,
    )
    assert [a.t for a in attempts] == [30.0, 150.0]  # mid-second, times k
    assert {(a.stage, a.reply, a.message_id) for a in attempts} == {("connect", None, "ms1")}


def test_exim_attempts_are_host_errors_not_defer_lines_or_skipped_retries() -> None:
    records = [r for line in EXIM_LOG.read_text().splitlines() if (r := parse_exim(line))]
    attempts = refused_attempts(
        records,
        sender=EXIM_SENDER,
        message_id="ms8b",
        start_wall=stamp("2026-11-24 02:39:22"),
        time_scale=1,
    )
    # One connection at 02:39:32 (its `==` line repeats it); 02:39:22 was "retry time not
    # reached"; the other message's refusal at 02:39:22 is not ours.
    assert [a.t for a in attempts] == [10.5]


def test_no_log_no_attempts() -> None:
    assert refused_attempts((), sender="x", message_id="m", start_wall=0.0, time_scale=1) == ()


def test_a_message_deferred_unseen_for_a_host_held_down_met_the_outage() -> None:
    """Exim's `retry time not reached for any host` and Postfix's `delivery temporarily
    suspended: ... Connection refused` defer a message without connecting because refusals
    already marked the host down: the message met the outage (the proof of exercise counts
    it). A routing retry and another message's deferral do not."""
    exim = [r for line in EXIM_LOG.read_text().splitlines() if (r := parse_exim(line))]
    assert [r.raw[20:36] for r in exim if is_held_by_refusals(r)] == ["1xVgRG-000027-1d"]
    assert held_by_refusals(exim, sender=EXIM_SENDER)
    assert not held_by_refusals(
        exim, sender="mailstorm+ms6926e203f597405a9ca39935289d79c4@bounces.mailstorm.test"
    )
    postfix = postfix_records()
    assert [is_held_by_refusals(r) for r in postfix] == [False, False, True, False, False]
    assert held_by_refusals(postfix, sender=POSTFIX_SENDER)
    assert not held_by_refusals(postfix[:2], sender=POSTFIX_SENDER)
