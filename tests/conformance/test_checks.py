"""Each check's verdicts on evidence built by hand: what passes, deviates, or does not apply."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.conformance import CHECKS, CheckInput, GiveUpWindow, RetryWindow, run_checks
from harness.dsn import DeliveryReport, parse_dsn
from harness.ledger import CaseEvidence
from harness.receiver import MessageRecord
from harness.results import (
    Attempt,
    CaseResult,
    Check,
    Connection,
    Fate,
    Level,
    Outcome,
    RecipientFate,
)

MINUTE = 60.0
DAY = 86400.0
SAMPLE = (Path(__file__).parents[1] / "dsn" / "samples" / "postfix-rcpt-550.eml").read_bytes()


def evidence(
    fates: list[Fate],
    attempt_times: list[float] = (),  # type: ignore[assignment]
    *,
    settled_t: float = 10.0,
    dsn: bytes | None = None,
    durations: list[float] | None = None,
    deliveries: int = 1,
) -> CaseEvidence:
    recipients = tuple(
        RecipientFate(
            "ms1",
            f"u{n}@r.test",
            fate,
            deliveries if fate in (Fate.DELIVERED, Fate.DUPLICATED) else 0,
            settled_t=settled_t if fate is not Fate.QUEUED else None,
        )
        for n, fate in enumerate(fates)
    )
    attempts = tuple(
        Attempt(
            t=t,
            stage="rcpt",
            reply="450 x",
            message_id="ms1",
            duration=(durations or [0.0] * 99)[i],
        )
        for i, t in enumerate(attempt_times)
    )
    dsns: tuple[tuple[float, MessageRecord, DeliveryReport], ...] = ()
    if dsn is not None:
        record = MessageRecord(1, 1, 0.0, 0.0, None, "", ("m@b.test",), True, "ms1", len(dsn), dsn)
        dsns = ((settled_t, record, parse_dsn(dsn)),)
    return CaseEvidence(recipients, attempts, dsns, (), (), observed_for=7200)


def verdict(check_id: str, case: CaseEvidence, codes: tuple[int, ...] = ()) -> Outcome:
    [check] = run_checks((check_id,), CheckInput(case, codes))
    assert check.clause == CHECKS[check_id].clause
    assert check.measured["check"] == check_id
    return check.outcome


@pytest.mark.parametrize(
    ("check_id", "case", "expected"),
    [
        ("retried", evidence([Fate.QUEUED], [0, 300]), Outcome.PASS),
        ("retried", evidence([Fate.BOUNCED], [0]), Outcome.DEVIATION),
        ("retried", evidence([Fate.QUEUED], [0]), Outcome.NOT_APPLICABLE),
        ("retried", evidence([Fate.QUEUED], []), Outcome.NOT_APPLICABLE),
        ("no-repeat-after-5xx", evidence([Fate.BOUNCED], [0]), Outcome.PASS),
        ("no-repeat-after-5xx", evidence([Fate.BOUNCED], [0, 60]), Outcome.DEVIATION),
        ("queued-not-bounced", evidence([Fate.QUEUED], [0, 300]), Outcome.PASS),
        ("queued-not-bounced", evidence([Fate.BOUNCED], [0], settled_t=MINUTE), Outcome.DEVIATION),
        ("queued-not-bounced", evidence([Fate.LOST], [0]), Outcome.DEVIATION),
        ("queued-not-bounced", evidence([Fate.BOUNCED], [0], settled_t=5 * DAY), Outcome.PASS),
        ("retry-delayed", evidence([Fate.QUEUED], [0, 300]), Outcome.PASS),
        ("retry-delayed", evidence([Fate.QUEUED], [0, 5]), Outcome.DEVIATION),
        ("retry-delayed", evidence([Fate.QUEUED], [0]), Outcome.NOT_APPLICABLE),
        ("retry-interval-30m", evidence([Fate.QUEUED], [0, 1800, 5400]), Outcome.PASS),
        ("retry-interval-30m", evidence([Fate.QUEUED], [0, 300, 5400]), Outcome.DEVIATION),
        ("give-up-4d", evidence([Fate.BOUNCED], [0], settled_t=5 * DAY), Outcome.PASS),
        ("give-up-4d", evidence([Fate.BOUNCED], [0], settled_t=2 * DAY), Outcome.DEVIATION),
        ("give-up-4d", evidence([Fate.QUEUED], [0]), Outcome.PASS),
        ("delivered-after-recovery", evidence([Fate.DELIVERED], [0, 300]), Outcome.PASS),
        ("delivered-after-recovery", evidence([Fate.BOUNCED], [0]), Outcome.DEVIATION),
        ("delivered-after-recovery", evidence([Fate.QUEUED], [0]), Outcome.INFO),
        ("dsn-sent", evidence([Fate.BOUNCED], [0], dsn=SAMPLE), Outcome.PASS),
        ("dsn-sent", evidence([Fate.LOST], [0]), Outcome.DEVIATION),
        ("dsn-sent", evidence([Fate.DELIVERED], [0]), Outcome.NOT_APPLICABLE),
        ("dsn-null-sender", evidence([Fate.BOUNCED], [0], dsn=SAMPLE), Outcome.PASS),
        ("dsn-null-sender", evidence([Fate.QUEUED], [0]), Outcome.NOT_APPLICABLE),
        ("duplicates", evidence([Fate.DUPLICATED], [0, 600], deliveries=2), Outcome.INFO),
        ("greeting-timeout-5m", evidence([Fate.QUEUED], [0], durations=[301]), Outcome.PASS),
        ("greeting-timeout-5m", evidence([Fate.QUEUED], [0], durations=[120]), Outcome.DEVIATION),
        ("eod-timeout-10m", evidence([Fate.DELIVERED], [0], durations=[30]), Outcome.PASS),
        ("code-class-reading", evidence([Fate.BOUNCED], [0]), Outcome.INFO),
    ],
)
def test_verdicts(check_id: str, case: CaseEvidence, expected: Outcome) -> None:
    assert verdict(check_id, case) == expected


def test_dsn_format_wants_the_remote_reply_quoted() -> None:
    case = evidence([Fate.BOUNCED], [0], dsn=SAMPLE)
    assert verdict("dsn-format", case, codes=(550,)) == Outcome.PASS
    assert verdict("dsn-format", case, codes=(554,)) == Outcome.DEVIATION
    assert verdict("dsn-format", evidence([Fate.QUEUED], [0])) == Outcome.NOT_APPLICABLE


def test_every_check_names_a_clause_and_level() -> None:
    for spec in CHECKS.values():
        assert spec.clause.startswith("RFC")
        assert isinstance(spec.level, Level)


def test_duplicates_are_counted() -> None:
    [check] = run_checks(
        ("duplicates",), CheckInput(evidence([Fate.DUPLICATED], [0, 1], deliveries=3))
    )
    assert check.measured["duplicates"] == 2


def test_intervals_and_repeats_are_per_message() -> None:
    """Three messages, one attempt each, a second apart: no repeat, and no 1 s "interval"."""
    recipients = tuple(
        RecipientFate(f"ms{n}", "u@r.test", Fate.BOUNCED, 0, settled_t=1.0) for n in range(3)
    )
    attempts = tuple(
        Attempt(t=float(n), stage="rcpt", reply="550 x", message_id=f"ms{n}") for n in range(3)
    )
    case = CaseEvidence(recipients, attempts, (), (), (), observed_for=7200)
    assert verdict("no-repeat-after-5xx", case) == Outcome.PASS
    assert verdict("retry-interval-30m", case) == Outcome.NOT_APPLICABLE
    retried = tuple(
        Attempt(t=t, stage="rcpt", reply="450 x", message_id=m)
        for m, t in (("ms0", 0.0), ("ms1", 1.0), ("ms0", 1800.0), ("ms1", 1801.0))
    )
    case = CaseEvidence(recipients[:2], retried, (), (), (), observed_for=7200)
    assert verdict("retry-interval-30m", case) == Outcome.PASS
    assert verdict("retried", case) == Outcome.PASS


def test_an_idle_session_is_no_messages_attempt() -> None:
    # OpenSMTPD (outage-72h-550-2mx): one session per message answered 550 at RCPT, and beside
    # each a second connection on which it said EHLO and quit, having nothing left to send.
    # Counting those made "repeated the refused request: up to 6 attempts" of three messages.
    recipients = evidence([Fate.BOUNCED] * 3, []).fates
    attempts = tuple(
        attempt
        for n in range(3)
        for attempt in (
            Attempt(t=n * DAY, stage="rcpt", reply="550 5.1.1 x", message_id=f"ms{n}"),
            Attempt(t=n * DAY + 3, stage="ehlo", reply="250 HELP"),
        )
    )
    case = CaseEvidence(recipients, attempts, (), (), (), observed_for=3 * DAY)
    assert verdict("no-repeat-after-5xx", case) == Outcome.PASS
    # a refused greeting names no message either, but it is an attempt: still counted
    refused = (*attempts, Attempt(t=60, stage="greeting", reply="554 go away"))
    case = CaseEvidence(recipients, refused, (), (), (), observed_for=3 * DAY)
    assert verdict("no-repeat-after-5xx", case) == Outcome.DEVIATION


def test_dsn_format_judges_the_failure_report_not_an_earlier_delay_warning() -> None:
    from tests.dsn.test_dsn import multipart_report

    warning = multipart_report(
        "Reporting-MTA: dns; x.test\r\n\r\nFinal-Recipient: rfc822; u0@r.test\r\n"
        "Action: delayed\r\nStatus: 4.0.0"
    )
    case = evidence([Fate.BOUNCED], [0], dsn=warning)
    failure = case.dsns[0][1]
    later = (5 * DAY, failure, parse_dsn(SAMPLE))
    both = CaseEvidence(case.fates, case.attempts, (case.dsns[0], later), (), (), 7200)
    assert both.failure_dsn() == later
    assert verdict("dsn-format", both, codes=(550,)) == Outcome.PASS
    assert verdict("dsn-format", case, codes=(550,)) == Outcome.DEVIATION


@pytest.mark.parametrize(
    ("check_id", "case", "uncertainty", "expected"),
    [
        # 22 minutes measured at k = 1440 (Postfix: ± 2 wall s = 48 min): 30 min is inside.
        (
            "retry-interval-30m",
            evidence([Fate.QUEUED], [0, 1320, 2640]),
            2880,
            Outcome.INCONCLUSIVE,
        ),
        # the same at k = 60 (± 2 min): clearly under 30 minutes.
        ("retry-interval-30m", evidence([Fate.QUEUED], [0, 1320, 2640]), 120, Outcome.DEVIATION),
        ("retry-interval-30m", evidence([Fate.QUEUED], [0, 1980, 3960]), 120, Outcome.PASS),
        ("retry-delayed", evidence([Fate.QUEUED], [0, 90]), 60, Outcome.INCONCLUSIVE),
        ("retry-delayed", evidence([Fate.QUEUED], [0, 300]), 120, Outcome.PASS),
        (
            "give-up-4d",
            evidence([Fate.BOUNCED], [0], settled_t=4 * DAY - 600),
            2880,
            Outcome.INCONCLUSIVE,
        ),
        ("give-up-4d", evidence([Fate.BOUNCED], [0], settled_t=3 * DAY), 2880, Outcome.DEVIATION),
        (
            "queued-not-bounced",
            evidence([Fate.BOUNCED], [0], settled_t=4 * DAY + 60),
            2880,
            Outcome.INCONCLUSIVE,
        ),
        (
            "queued-not-bounced",
            evidence([Fate.BOUNCED], [0], settled_t=5 * DAY),
            2880,
            Outcome.PASS,
        ),
    ],
)
def test_a_threshold_within_the_uncertainty_is_inconclusive(
    check_id: str, case: CaseEvidence, uncertainty: float, expected: Outcome
) -> None:
    [check] = run_checks((check_id,), CheckInput(case, (), time_uncertainty=uncertainty))
    assert check.outcome == expected, check.detail
    if expected is not Outcome.PASS or check_id != "queued-not-bounced":
        assert "±" in check.detail


def test_an_inconclusive_check_makes_an_inconclusive_cell_but_a_deviation_wins() -> None:
    inconclusive = Check("RFC5321 4.5.4.1", Level.SHOULD, Outcome.INCONCLUSIVE, "")
    deviation = Check("RFC5321 4.2.1", Level.SHOULD, Outcome.DEVIATION, "")
    passed = Check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "")
    base = CaseResult("s", "t", "", 60.0, {}, (), (), None, ())
    assert dataclasses.replace(base, checks=(passed, inconclusive)).verdict == "inconclusive"
    assert dataclasses.replace(base, checks=(inconclusive, deviation)).verdict == "deviation"


def test_a_452_recipient_sent_again_in_the_same_session_counts_as_retried() -> None:
    """With PIPELINING Exim sends the left-over recipient in a second transaction of the same
    session: one attempt (session), every recipient delivered."""
    case = evidence([Fate.DELIVERED, Fate.DELIVERED, Fate.DELIVERED], [0])
    assert verdict("retried-452", case) == Outcome.PASS
    assert verdict("retried-452", evidence([Fate.QUEUED], [0])) == Outcome.NOT_APPLICABLE


#: Exim at k = 60: Debian's rule is due 15 min after a failure and the next 30-min queue run
#: tries it, so this run's first retry comes 14 to 45 minutes after the failure.
EXIM_WINDOW = RetryWindow(
    stock_shortest=15 * MINUTE,
    stock_uncertainty=1.0,
    earliest=14 * MINUTE,
    latest=45 * MINUTE,
    basis="Debian's retry rule",
)


def judged(check_id: str, case: CaseEvidence, window: RetryWindow | None) -> Check:
    [check] = run_checks((check_id,), CheckInput(case, (), 60.0, window))
    return check


@pytest.mark.parametrize(
    "first_retry",
    [15.5 * MINUTE, 29 * MINUTE + 59, 31 * MINUTE, 44 * MINUTE],
)
def test_the_interval_verdict_does_not_depend_on_the_queue_runners_phase(
    first_retry: float,
) -> None:
    """Two full runs gave Exim's rcpt-450 a first retry of 29m59s (inconclusive against 30
    minutes ± 1) and of 20 minutes (a deviation): the phase of its queue runner, not its
    policy. Judged on the window its configuration implies, every phase gives one verdict."""
    times = [0.0, first_retry, first_retry + 30 * MINUTE]
    measured_alone = judged("retry-interval-30m", evidence([Fate.QUEUED], times), None)
    on_window = judged("retry-interval-30m", evidence([Fate.QUEUED], times), EXIM_WINDOW)
    assert on_window.outcome is Outcome.DEVIATION, on_window.detail
    assert on_window.measured["judged_on"] == "configuration"
    assert on_window.measured["configured_shortest"] == 15 * MINUTE
    assert "15m" in on_window.detail
    assert "Debian's retry rule" in on_window.detail
    if first_retry > 29 * MINUTE:
        assert measured_alone.outcome is not Outcome.DEVIATION  # one draw could not tell
    delayed = judged("retry-delayed", evidence([Fate.QUEUED], times), EXIM_WINDOW)
    assert delayed.outcome is Outcome.PASS, delayed.detail


def test_a_wait_sooner_than_the_configuration_allows_is_judged_on_the_measurement() -> None:
    """A retry 5 minutes after the failure is not what Exim's rule does: the window does not
    explain it, so the measurement decides (here a deviation it shows by itself)."""
    check = judged("retry-interval-30m", evidence([Fate.QUEUED], [0, 300, 2100]), EXIM_WINDOW)
    assert check.measured["judged_on"] == "measurement"
    assert check.outcome is Outcome.DEVIATION


def test_waits_all_beyond_the_window_are_judged_on_the_measurement() -> None:
    """Every retry held past the window (a host retry record, say): the configuration's
    shortest interval was never what happened here, so the measured 2 hours pass."""
    check = judged("retry-interval-30m", evidence([Fate.QUEUED], [0, 7200, 14400]), EXIM_WINDOW)
    assert check.measured["judged_on"] == "measurement"
    assert check.outcome is Outcome.PASS


def test_the_configured_interval_counts_from_the_end_of_a_stalled_attempt() -> None:
    """An attempt that waited 20 minutes for a greeting, then 15: 35 minutes between starts,
    so a stall long enough makes the same rule meet 30 minutes."""
    case = evidence([Fate.QUEUED], [0, 35 * MINUTE], durations=[20 * MINUTE, 0.0])
    check = judged("retry-interval-30m", case, EXIM_WINDOW)
    assert check.measured["judged_on"] == "configuration"
    assert check.measured["configured_shortest"] == 35 * MINUTE
    assert check.outcome is Outcome.PASS, check.detail


#: Exim at k = 1440: Debian's final cutoff is 4 days; the first queue run after it (every
#: 1 wall second, 24 real minutes) tries the address and bounces it.
EXIM_GIVE_UP = GiveUpWindow(
    stock_seconds=4 * DAY, earliest=4 * DAY - 1440, latest=4 * DAY + 1440, basis="final cutoff"
)


@pytest.mark.parametrize("bounced_at", [4 * DAY + 300, 4 * DAY + 1500, 4 * DAY + 2400])
def test_the_give_up_verdict_does_not_depend_on_where_in_its_window_the_bounce_fell(
    bounced_at: float,
) -> None:
    """Exim's reference give-up at k = 1440 was 96.5 h ± 0.4: a pass; a bounce at 96.1 h, as
    likely, was inconclusive. Judged on the configured 4 days, every draw passes."""
    case = evidence([Fate.BOUNCED], [0], settled_t=bounced_at)
    [alone] = run_checks(("give-up-4d",), CheckInput(case, (), 1440.0))
    [check] = run_checks(("give-up-4d",), CheckInput(case, (), 1440.0, None, EXIM_GIVE_UP))
    assert check.outcome is Outcome.PASS, check.detail
    assert check.measured["judged_on"] == "configuration"
    assert "final cutoff" in check.detail
    if bounced_at < 4 * DAY + 1440:
        assert alone.outcome is Outcome.INCONCLUSIVE


def test_a_bounce_outside_the_give_up_window_is_judged_on_the_measurement() -> None:
    """A bounce after 3 days is not the configured give-up (something else failed the mail):
    the measurement decides, and 3 days is a deviation."""
    case = evidence([Fate.BOUNCED], [0], settled_t=3 * DAY)
    [check] = run_checks(("give-up-4d",), CheckInput(case, (), 1440.0, None, EXIM_GIVE_UP))
    assert check.measured["judged_on"] == "measurement"
    assert check.outcome is Outcome.DEVIATION


def silent_sessions(*sessions: tuple[float, float], observed_for: float) -> CaseEvidence:
    """Sessions (start, duration) the receiver never answered, observed for `observed_for`."""
    attempts = tuple(Attempt(t=t, stage="greeting", reply=None, duration=d) for t, d in sessions)
    return CaseEvidence((), attempts, (), (), (), observed_for=observed_for)


@pytest.mark.parametrize(
    ("sessions", "observed_for", "expected"),
    [
        # every silent session ended by the sender: Postfix's 5-minute greeting timeout
        ([(0.0, 300.0), (600.0, 300.0)], 7200.0, Outcome.PASS),
        # still open at the end, but for less than a day: not established
        ([(0.0, 3600.0), (3660.0, 7200.0 - 3660.0)], 7200.0, Outcome.INFO),
        # nullmailer in outage-72h-blackhole: its second session, at 1 h, open at 96 h
        ([(90.0, 3590.0), (3745.0, 96 * 3600.0 - 3745.0)], 96 * 3600.0, Outcome.DEVIATION),
        ([], 7200.0, Outcome.NOT_APPLICABLE),
    ],
)
def test_client_timeout_fails_a_session_no_timeout_ended_within_a_day(
    sessions: list[tuple[float, float]], observed_for: float, expected: Outcome
) -> None:
    case = silent_sessions(*sessions, observed_for=observed_for)
    assert verdict("client-timeout", case) is expected


def test_an_idle_session_to_a_second_address_is_no_try_of_it() -> None:
    """OpenSMTPD (mx-primary-451): every retry went to mx1 over IPv6 and got 451 at RCPT; once
    it also opened mx1 over IPv4, said EHLO and quit with nothing left to send. That session
    tried nothing there: still one address. A refusal or a 421 there is a try."""
    recipients = evidence([Fate.QUEUED], []).fates
    retries = tuple(
        Attempt(t=t, stage="rcpt", reply="451 4.3.0 x", message_id="ms1", listener="mx1.ipv6")
        for t in (5.0, 405.0, 6406.0)
    )
    idle = Attempt(t=6408.0, stage="ehlo", reply="250 HELP", listener="mx1.ipv4")
    connections = (
        *(Connection(a.t, "mx1", "ipv6", "2001:db8::a") for a in retries),
        Connection(idle.t, "mx1", "ipv4", "172.30.0.10"),
    )

    def judged(attempts: tuple[Attempt, ...], seen: tuple[Connection, ...]) -> Check:
        case = CaseEvidence(recipients, attempts, (), (), (), observed_for=DAY, connections=seen)
        [check] = run_checks(("mx-two-addresses",), CheckInput(case, ()))
        return check

    alone = judged((*retries, idle), connections)
    assert alone.outcome == Outcome.DEVIATION
    assert "only one address tried (mx1 ipv6)" in alone.detail
    assert "idle sessions only" in alone.detail
    assert "at mx1 ipv4" in alone.detail
    refused = judged((*retries, dataclasses.replace(idle, reply="421 4.3.2 busy")), connections)
    assert refused.outcome == Outcome.PASS
    closed = (*connections[:-1], dataclasses.replace(connections[-1], outcome="refused"))
    assert judged(retries, closed).outcome == Outcome.PASS
