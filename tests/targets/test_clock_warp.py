"""The clock warp's arithmetic: the fast clock's origin, stock settings in wall time, and the
check that an MTA's logged attempts really ran on the fast clock."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from harness.ledger.clock_check import (
    clock_inconsistency,
    logged_attempts,
    trusted_warp_uncertainty,
    unseen_attempts,
    warp_uncertainty,
)
from harness.results import Attempt
from harness.targets import BOUNCE_DOMAIN, LogRecord, RouteTable, Submission
from harness.targets.clock_warp import (
    ClockWarpError,
    WarpedClock,
    launch_command,
    warped_parameters,
)
from harness.targets.exim.parsers import parse_log_line as parse_exim_log_line
from harness.targets.postfix import PostfixTarget
from harness.targets.time_scaling import TimeScaling, scale_whole_seconds

K = 2880.0
ORIGIN = 1_795_000_000.0


def test_origin_is_solved_from_readings_of_a_clock_k_times_faster() -> None:
    readings = [(ORIGIN + r, ORIGIN + r * K) for r in (2.0, 2.5, 3.25)]
    clock = WarpedClock.from_readings(K, readings)
    assert clock.origin == pytest.approx(ORIGIN, abs=1e-3)
    assert clock.to_fake(ORIGIN + 10) == pytest.approx(ORIGIN + 10 * K)
    assert clock.to_real(clock.to_fake(ORIGIN + 7.5)) == pytest.approx(ORIGIN + 7.5)


def test_a_clock_that_is_not_fast_is_refused() -> None:
    # What a container without the preload would show: its clock runs at real speed.
    readings = [(ORIGIN + 2.0, ORIGIN + 2.0), (ORIGIN + 3.0, ORIGIN + 3.0)]
    with pytest.raises(ClockWarpError, match="not in effect"):
        WarpedClock.from_readings(K, readings)


def test_stock_settings_shrink_by_k_except_alarm_timers_which_keep_whole_seconds() -> None:
    stock = TimeScaling(
        1.0,
        (
            scale_whole_seconds("queue_run_delay", 300, 1.0),
            scale_whole_seconds("queue_interval", 1800, 1.0),
        ),
    )
    at_1440 = warped_parameters(stock, 1440, alarm_parameters=("queue_interval",))
    scan, runner = at_1440.get("queue_run_delay"), at_1440.get("queue_interval")
    assert scan.exact
    assert scan.effective_real_seconds == pytest.approx(300)
    # alarm(1800 / 1440) = alarm(1): queue runs every 24 min instead of 30.
    assert runner.configured_seconds == 1
    assert runner.distortion == pytest.approx(0.8)
    assert "alarm()" in runner.note
    assert (
        warped_parameters(stock, 1800, alarm_parameters=("queue_interval",))
        .get("queue_interval")
        .exact
    )


def test_the_launcher_keeps_the_daemon_in_the_foreground_under_one_shared_clock() -> None:
    argv = launch_command(K, ["postfix", "start-fg"])
    assert argv[:3] == ["faketime", "-f", "+0 x2880"]
    script = argv[-1]
    assert script.endswith("exec 'postfix' 'start-fg'")
    assert "LD_PRELOAD=libfaketime.so.1" in script  # by name: setuid programs need that


SENDER = f"mailstorm+ms1@{BOUNCE_DOMAIN}"


def _postfix_deferral(fake: datetime.datetime, queue_id: str = "C6D3E1741FE") -> str:
    return (
        f"{fake:%b %d %H:%M:%S} sender postfix/smtp[135]: {queue_id}: to=<u@r.test>, "
        "relay=172.17.0.1[172.17.0.1]:40001, delay=9, delays=0/0/0/9, dsn=4.3.0, "
        "status=deferred (host 172.17.0.1[172.17.0.1] said: 451 4.3.0 x (in reply to RCPT TO))"
    )


def _records(
    clock: WarpedClock, real_instants: list[float], stamped_by: WarpedClock | None = None
) -> list[LogRecord]:
    """Log records of deferrals at `real_instants`, stamped by the MTA's clock (`stamped_by`,
    the warped one unless said otherwise), converted back by the target's `clock`."""
    stamping = stamped_by or clock
    target = PostfixTarget(RouteTable.to_one(["r.test", BOUNCE_DOMAIN], "127.0.0.1", 25))
    first = datetime.datetime.fromtimestamp(stamping.to_fake(real_instants[0]), datetime.UTC)
    lines = [
        f"{first:%b %d %H:%M:%S} sender postfix/qmgr[113]: C6D3E1741FE: from=<{SENDER}>, "
        "size=378, nrcpt=1 (queue active)",
        *(
            _postfix_deferral(datetime.datetime.fromtimestamp(stamping.to_fake(r), datetime.UTC))
            for r in real_instants
        ),
    ]
    parsed = [r for line in lines if (r := target.parse_log_line(line))]
    # What SenderTarget.logs() does under a warp: stamps back to real instants.
    return [
        LogRecord(clock.real_datetime(r.time), r.process, r.queue_id, r.text, r.fields, r.raw)
        if r.time
        else r
        for r in parsed
    ]


def _case(clock: WarpedClock) -> tuple[Submission, list[Attempt]]:
    now = datetime.datetime.now(datetime.UTC).timestamp()
    submission = Submission("ms1", SENDER, ("u@r.test",), now, 0.0, 400)
    waits = [0.2, 1.3, 3.1, 7.0]  # wall seconds after submission
    attempts = [Attempt(t=w * clock.factor, stage="rcpt", reply="451") for w in waits]
    return submission, attempts


def test_logged_attempts_on_the_fast_clock_match_the_receivers() -> None:
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    logged = _records(clock, [submission.wall + a.t / K for a in attempts])
    assert len(logged_attempts(logged, SENDER)) == 4
    assert clock_inconsistency(logged, submission, attempts, K) is None
    trusted = trusted_warp_uncertainty(logged, submission, attempts, K, 1.0)
    assert trusted == warp_uncertainty(logged, submission, attempts, K, 1.0)


def test_what_the_mta_logged_after_the_sessions_were_read_is_not_compared() -> None:
    """The engine reads the receiver's sessions, then the MTA's log: a session in between is in
    the log only. Counted, it made Sendmail's `rcpt-450` an error ("clock warp not trusted")
    in a reference run, a queue run logged 10 s after the sessions were read."""
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    read_at = submission.wall + attempts[-1].t / K + 0.5
    logged = _records(clock, [*(submission.wall + a.t / K for a in attempts), read_at + 9.9])
    with pytest.raises(ClockWarpError, match="1 of 5"):
        trusted_warp_uncertainty(logged, submission, attempts, K, 1.0)
    within = trusted_warp_uncertainty(logged, submission, attempts, K, 1.0, until=read_at)
    assert within == warp_uncertainty(logged[:-1], submission, attempts, K, 1.0)


def test_deliveries_on_the_real_clock_are_caught() -> None:
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    # Exim's failure mode: delivery processes stamp the real time, as if no warp were running.
    real_clock = WarpedClock(1.0, clock.origin)
    logged = _records(clock, [submission.wall + 0.2])
    later = [submission.wall + a.t / K for a in attempts[1:]]
    logged += _records(clock, later, stamped_by=real_clock)[1:]
    problem = clock_inconsistency(logged, submission, attempts, K)
    assert problem is not None
    assert "3 of 4" in problem
    # the matrix and the schedule runner both take their ± from here: no ± for such a log
    with pytest.raises(ClockWarpError, match=r"^clock warp not trusted: .*3 of 4"):
        trusted_warp_uncertainty(logged, submission, attempts, K, 1.0)


def test_a_connection_that_timed_out_before_the_receiver_is_an_attempt_not_a_clock_error() -> None:
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    logged = _records(clock, [submission.wall + a.t / K for a in attempts])
    # Under load the warped 10 ms connect timeout expired: the MTA logged an attempt at 5 s of
    # wall time that the receiver (which saw the other four) never saw.
    missed = datetime.datetime.fromtimestamp(clock.to_fake(submission.wall + 5.0), datetime.UTC)
    target = PostfixTarget(RouteTable.to_one(["r.test", BOUNCE_DOMAIN], "127.0.0.1", 25))
    line = (
        f"{missed:%b %d %H:%M:%S} sender postfix/smtp[140]: C6D3E1741FE: to=<u@r.test>, "
        "relay=none, delay=9, delays=9/0/0/0, dsn=4.4.1, status=deferred (connect to "
        "172.17.0.1[172.17.0.1]:40001: Connection timed out)"
    )
    record = target.parse_log_line(line)
    assert record is not None
    assert record.time is not None
    logged.append(
        LogRecord(
            clock.real_datetime(record.time),
            record.process,
            record.queue_id,
            record.text,
            record.fields,
        )
    )
    assert clock_inconsistency(logged, submission, attempts, K) is None
    unseen = unseen_attempts(logged, submission, attempts, K)
    assert [a.listener for a in unseen] == ["mta-log"]
    assert unseen[0].t == pytest.approx(5.0 * K, abs=K)  # whole fast seconds, +-1 wall s
    assert unseen_attempts(logged[:-1], submission, attempts, K) == ()


def test_a_warped_schedules_uncertainty_is_k_times_its_slowest_attempt_in_the_run() -> None:
    """Each attempt's outcome is logged some wall time after its session began at the
    receiver (the replies, the logging): that cost, times K, is the ± on the schedule."""
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    costs = [0.010, 0.040, 0.020, 0.015]  # wall seconds from session start to the log line
    logged = _records(
        clock, [submission.wall + a.t / K + c for a, c in zip(attempts, costs, strict=True)]
    )
    u = warp_uncertainty(logged, submission, attempts, K, slack=2.0)
    assert u is not None
    # 40 ms x 2880 = 115 s, plus 2 s of slack; the stamps have whole fast seconds (1/K wall)
    assert 0.040 * K + 2.0 - 1.0 <= u <= 0.040 * K + 2.0 + 1.0
    assert warp_uncertainty([], submission, attempts, K, slack=2.0) is None


def test_the_wait_from_postfixs_activation_to_the_session_counts_too() -> None:
    """qmgr logs `(queue active)` when it decides to try the message; the smtp process it
    starts connects later. An 80 ms start-up is 3.8 minutes at x2880: the ± covers it."""
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    starts = [submission.wall + a.t / K for a in attempts]
    logged = _records(clock, [start + 0.010 for start in starts])
    logged += _records(clock, [starts[2] - 0.080])[:1]  # a second activation, 80 ms early
    u = warp_uncertainty(logged, submission, attempts, K, slack=2.0)
    assert u is not None
    assert 0.080 * K + 2.0 - 1.0 <= u <= 0.080 * K + 2.0 + 1.0


def test_a_line_logged_inside_a_long_session_is_the_same_clock() -> None:
    """Load stretched one session to 2 wall seconds; the MTA logged its deferral 1.5 s after
    the session began, on the reply, before QUIT. That is the fast clock, not another one (a
    process on the real clock is off by its whole elapsed wall time)."""
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(K, now - 30)
    submission, attempts = _case(clock)
    attempts[2] = dataclasses.replace(attempts[2], duration=2.0 * K)
    walls = [submission.wall + a.t / K for a in attempts]
    walls[2] += 1.5
    logged = _records(clock, walls)
    assert clock_inconsistency(logged, submission, attempts, K) is None
    assert unseen_attempts(logged, submission, attempts, K) == ()
    # 1.5 s after a session that lasted no time is still caught, and the message names it.
    late = _records(clock, [*walls[:3], walls[3] + 1.5])
    problem = clock_inconsistency(late, submission, attempts, K)
    assert problem is not None
    assert problem.startswith("1 of 4 sessions the MTA logged are up to 1.5s (wall) away")
    assert "status=deferred" in problem


def _exim_records(clock: WarpedClock, lines: list[tuple[float, str]]) -> list[LogRecord]:
    """Exim mainlog lines written at real instants on the warped clock, converted back."""
    records = []
    for real, text in lines:
        fake = datetime.datetime.fromtimestamp(clock.to_fake(real), datetime.UTC)
        record = parse_exim_log_line(f"{fake:%Y-%m-%d %H:%M:%S.%f} {text}")
        assert record is not None
        assert record.time is not None
        records.append(dataclasses.replace(record, time=clock.real_datetime(record.time)))
    return records


def test_the_wait_from_exims_queue_run_to_the_retry_session_counts_too() -> None:
    """Exim logs nothing per message before it connects; each retry is made by a queue run,
    whose start it logs. A 90 ms queue run before the session is 2.7 minutes at x1800 (it
    once put a first retry at 47m44s, past the 45 minutes its configuration allows, with a
    ± that counted only the session's side). The first attempt, the immediate delivery, is
    no queue run's: the older run before it does not count. A run that starts late after its
    tick delays every retry due at that tick, and counts on top."""
    k = 1800.0
    now = datetime.datetime.now(datetime.UTC).timestamp()
    clock = WarpedClock(k, now - 30)
    submission, attempts = _case(clock)
    attempts = [dataclasses.replace(a, t=a.t / K * k) for a in attempts]
    starts = [submission.wall + a.t / k for a in attempts]
    qid = "1xVgRG-00002I-1v"
    deferral = (
        f"{qid} == u@r.test R=mailstorm_routes T=remote_smtp defer (-44) "
        "H=hop.mailstorm.invalid [172.17.0.1]:40001: SMTP error from remote mail server after "
        "RCPT TO:<u@r.test>: 451 4.3.0 x"
    )
    # A queue run every 62.5 wall ms (only the wall times matter here), one 50 ms before
    # each session: the immediate delivery's (which no run made) and each retry's.
    ticks = [starts[0] - 0.050 + 0.0625 * n for n in range(75)]
    assert all(any(abs(t - (start - 0.050)) < 1e-9 for t in ticks) for start in starts)
    logged = _exim_records(
        clock,
        [
            *((tick, f"Start queue run: pid={n}") for n, tick in enumerate(ticks)),
            (starts[0] - 0.001, f"{qid} <= {SENDER} U=root P=local S=400"),
            *((start + 0.010, deferral) for start in starts),
        ],
    )
    u = warp_uncertainty(logged, submission, attempts, k, slack=1.0)
    assert u is not None
    assert 0.050 * k + 1.0 - 1.0 <= u <= 0.050 * k + 1.0 + 1.0
    # The daemon got the CPU 0.25 s late at one tick (each later tick follows from that
    # run): every time is that much less sure.
    late = [r for r in logged if not r.text.startswith("Start queue run")]
    late += _exim_records(
        clock,
        [
            (tick + (0.25 if n >= 40 else 0.0), f"Start queue run: pid={n}")
            for n, tick in enumerate(ticks)
        ],
    )
    late_u = warp_uncertainty(late, submission, attempts, k, slack=1.0)
    assert late_u is not None
    assert u + 0.25 * k - 1.0 <= late_u <= u + 0.25 * k + 1.0
    without_runs = [r for r in logged if not r.text.startswith("Start queue run")]
    u = warp_uncertainty(without_runs, submission, attempts, k, slack=1.0)
    assert u is not None
    assert u <= 0.010 * k + 1.0 + 1.0
