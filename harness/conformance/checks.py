"""Checks: each turns a case's evidence into a verdict on one RFC clause (docs/conformance.md).

A scenario names the checks that apply to it. A check never raises on odd evidence: where the
case did not exercise the clause it says "not applicable", and where the MTA does something
else than the clause asks it says "deviation" with the measured values — a result, not an
error. Thresholds come from the RFCs; they are in the detail text so a reader can judge.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from harness.conformance.check_input import CheckFunction, CheckInput
from harness.conformance.mx_checks import MX_CHECKS
from harness.durations import format_duration
from harness.ledger import CaseEvidence
from harness.results import CHECK_CLAUSES, Attempt, Check, Fate, Level, Outcome

MINUTE = 60.0
DAY = 86400.0


@dataclass(frozen=True)
class CheckSpec:
    clause: str
    level: Level
    function: CheckFunction


def _attempts_per_message(evidence: CaseEvidence) -> list[list[Attempt]]:
    """The attempts per message, each list sorted by time. Sessions that ended before MAIL
    named a message (a refused greeting) cannot be told apart, so then all attempts form one
    stream; idle sessions (`Attempt.is_idle`) are left out."""
    attempts = [a for a in evidence.attempts if not a.is_idle]
    by_message: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        if attempt.message_id:
            by_message.setdefault(attempt.message_id, []).append(attempt)
    if not by_message or any(a.message_id is None for a in attempts):
        streams = [attempts] if attempts else []
    else:
        streams = list(by_message.values())
    return [sorted(stream, key=lambda a: a.t) for stream in streams]


def _per_message(evidence: CaseEvidence) -> list[list[float]]:
    """Attempt times per message (see `_attempts_per_message`)."""
    return [[a.t for a in stream] for stream in _attempts_per_message(evidence)]


def _retried_streams(evidence: CaseEvidence) -> list[list[Attempt]]:
    """The messages' attempt lists that have a retry (two attempts or more)."""
    return [stream for stream in _attempts_per_message(evidence) if len(stream) >= 2]


def _first_wait(stream: list[Attempt]) -> float:
    """From the end of a message's first attempt to the start of its second: the wait the
    retry clock decided (an attempt that stalls for minutes is not part of it)."""
    return stream[1].t - (stream[0].t + stream[0].duration)


def _configured_shortest(check: CheckInput) -> tuple[float, float, str] | None:
    """The shortest interval between two attempts that the sender's stock configuration allows
    in this case (its shortest wait after the briefest failed attempt), its ± and the text
    saying so; None when there is no window or the measured waits do not keep to it."""
    window, u = check.retry_window, check.time_uncertainty
    streams = _retried_streams(check.evidence)
    if window is None or not streams:
        return None
    waits = [_first_wait(stream) for stream in streams]
    if min(waits) < window.earliest - u:
        return None  # sooner than the configuration allows: the configuration does not explain it
    if not any(wait <= window.latest + u for wait in waits):
        return None  # every wait beyond the window: something else (a host retry record) held it
    shortest = min(stream[0].duration for stream in streams) + window.stock_shortest
    text = (
        f"its configuration allows {_pm(shortest, window.stock_uncertainty)} "
        f"({window.basis}; here first retries came {format_duration(min(waits))}"
        + (f" to {format_duration(max(waits))}" if len(waits) > 1 else "")
        + f" after a failure, in the window {format_duration(window.earliest)} to "
        f"{format_duration(window.latest)} ± {format_duration(u)} of this run)"
    )
    return shortest, window.stock_uncertainty, text


def _judge_interval(
    check: CheckInput, measured_value: float, threshold: float, what: str
) -> tuple[Outcome, str, dict[str, object]]:
    """An interval against "at least `threshold`": on the configuration where the measured waits
    keep to it (a phase-independent answer), else on the measurement."""
    u = check.time_uncertainty
    measured: dict[str, object] = {"uncertainty": round(u)}
    configured = _configured_shortest(check)
    if configured is not None:
        shortest, stock_uncertainty, text = configured
        measured |= {"configured_shortest": round(shortest), "judged_on": "configuration"}
        outcome = _at_least(shortest, threshold, stock_uncertainty)
        detail, joint = f"{what} {_pm(measured_value, u)} measured; {text}", ":"
    else:
        measured["judged_on"] = "measurement"
        outcome = _at_least(measured_value, threshold, u)
        detail, joint = f"{what} {_pm(measured_value, u)}", ","
    limit = format_duration(threshold)
    if outcome is Outcome.DEVIATION:
        return outcome, f"{detail}{joint} under {limit}", measured
    if outcome is Outcome.INCONCLUSIVE:
        return outcome, f"{detail}: {limit} is within it", measured
    return outcome, detail, measured


def _gaps(evidence: CaseEvidence) -> list[float]:
    """Intervals between consecutive attempts of the same message."""
    return [
        later - earlier
        for times in _per_message(evidence)
        for earlier, later in itertools.pairwise(times)
    ]


def _fates(evidence: CaseEvidence) -> set[Fate]:
    return {f.fate for f in evidence.fates}


def _at_least(value: float, threshold: float, uncertainty: float) -> Outcome:
    """`value ± uncertainty` against "at least `threshold`": pass only when the whole range
    meets it, deviation only when none of it does, else inconclusive."""
    if value - uncertainty >= threshold:
        return Outcome.PASS
    if value + uncertainty < threshold:
        return Outcome.DEVIATION
    return Outcome.INCONCLUSIVE


def _pm(seconds: float, uncertainty: float) -> str:
    """A measured retry-clock time for people, with its uncertainty: `22m ± 48m`."""
    text = format_duration(seconds)
    return f"{text} ± {format_duration(uncertainty)}" if uncertainty > 0 else text


def _retried(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    attempts = len(e.attempts)
    fewest = min((len(times) for times in _per_message(e)), default=0)
    measured: dict[str, object] = {"attempts": attempts, "fates": e.counts()}
    if fewest >= 2:
        return Outcome.PASS, f"tried again: {attempts} attempts", measured
    if _fates(e) & {Fate.BOUNCED, Fate.LOST}:
        return Outcome.DEVIATION, "gave up after one attempt", measured
    if attempts == 0:
        return Outcome.NOT_APPLICABLE, "no attempt reached the receiver", measured
    return Outcome.NOT_APPLICABLE, "one attempt, still queued when observation ended", measured


def _retried_452(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """The recipients a 452 (or 552) turned away were sent again. A sender offered PIPELINING
    may do that in a second transaction of the same session (Exim does), so a recipient
    delivered after the refusal counts, not only a second session."""
    e = check.evidence
    if all(f.fate in (Fate.DELIVERED, Fate.DUPLICATED) for f in e.fates) and e.fates:
        measured: dict[str, object] = {"attempts": len(e.attempts), "fates": e.counts()}
        sessions = "one session" if len(e.attempts) == 1 else f"{len(e.attempts)} sessions"
        return Outcome.PASS, f"every recipient delivered after the refusal ({sessions})", measured
    return _retried(check)


def _no_repeat(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    most = max((len(times) for times in _per_message(e)), default=0)
    measured: dict[str, object] = {"attempts": len(e.attempts), "fates": e.counts()}
    if most == 0:
        return Outcome.NOT_APPLICABLE, "no attempt reached the receiver", measured
    if most == 1:
        return Outcome.PASS, "one attempt per message, not repeated", measured
    return Outcome.DEVIATION, f"repeated the refused request: up to {most} attempts", measured


def _queued_not_bounced(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    fates = _fates(e)
    measured: dict[str, object] = {"fates": e.counts(), "observed_for": round(e.observed_for)}
    if fates & {Fate.LOST}:
        return Outcome.DEVIATION, "mail was lost: neither delivered, bounced nor queued", measured
    u = check.time_uncertainty
    bounces = sorted(f.settled_t or 0 for f in e.fates if f.fate is Fate.BOUNCED)
    if bounces and (outcome := _at_least(bounces[0], 4 * DAY, u)) is not Outcome.PASS:
        measured["bounced_at"] = round(bounces[0])
        when = _pm(bounces[0], u)
        if outcome is Outcome.DEVIATION:
            return outcome, f"bounced after {when} instead of queuing", measured
        return outcome, f"bounced after {when}: within the uncertainty of 4 days", measured
    return Outcome.PASS, "kept in the queue and retried (or delivered later)", measured


def _retry_delayed(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    gaps = _gaps(check.evidence)
    if not gaps:
        return Outcome.NOT_APPLICABLE, "fewer than two attempts", {}
    first = min(times[1] - times[0] for times in _per_message(check.evidence) if len(times) > 1)
    outcome, detail, judged = _judge_interval(check, first, MINUTE, "first retry after")
    return outcome, detail, {"first_retry_after": round(first), **judged}


def _retry_interval_30m(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    gaps = _gaps(check.evidence)
    if not gaps:
        return Outcome.NOT_APPLICABLE, "fewer than two attempts", {}
    shortest = min(gaps)
    outcome, detail, judged = _judge_interval(
        check, shortest, 30 * MINUTE, "shortest retry interval"
    )
    return outcome, detail, {"shortest_interval": round(shortest), "intervals": len(gaps), **judged}


def _delivered_after_recovery(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    fates = _fates(e)
    times = [f.settled_t for f in e.fates if f.fate in (Fate.DELIVERED, Fate.DUPLICATED)]
    measured: dict[str, object] = {
        "fates": e.counts(),
        "delivered_at": [round(t or 0) for t in times],
    }
    if fates <= {Fate.DELIVERED, Fate.DUPLICATED}:
        return (
            Outcome.PASS,
            f"all delivered, the last after {format_duration(max(t or 0 for t in times))}",
            measured,
        )
    if fates & {Fate.BOUNCED, Fate.LOST}:
        return Outcome.DEVIATION, f"not all delivered: {e.counts()}", measured
    return Outcome.INFO, f"still queued when observation ended: {e.counts()}", measured


def _dsn_sent(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    bounced = [f for f in e.fates if f.fate is Fate.BOUNCED]
    measured: dict[str, object] = {"dsns": len(e.dsns), "fates": e.counts()}
    if any(f.fate is Fate.LOST for f in e.fates):
        return Outcome.DEVIATION, "undeliverable mail was dropped without notice", measured
    if not bounced:
        return Outcome.NOT_APPLICABLE, "nothing failed for good", measured
    return Outcome.PASS, f"a DSN came back for {len(bounced)} failed recipient(s)", measured


def _dsn_null_sender(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    measured: dict[str, object] = {"dsns": len(e.dsns), "non_null": len(e.foreign_bounces)}
    if e.foreign_bounces:
        return Outcome.DEVIATION, "a bounce came from a non-null reverse-path", measured
    if not e.dsns:
        return Outcome.NOT_APPLICABLE, "no DSN came back", measured
    return Outcome.PASS, "the DSN used the null reverse-path <>", measured


def _dsn_format(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    if not e.dsns:
        return Outcome.NOT_APPLICABLE, "no DSN came back", {}
    _, _, report = e.failure_dsn() or e.dsns[0]
    problems = list(report.problems)
    failed = [b for b in report.recipients if b.action == "failed"]
    quoted = {b.remote_reply_code for b in report.recipients}
    if check.reply_codes and not quoted & set(check.reply_codes):
        problems.append(f"Diagnostic-Code does not carry the remote reply {check.reply_codes}")
    measured: dict[str, object] = {
        "actions": [b.action for b in report.recipients],
        "statuses": [b.status for b in report.recipients],
        "diagnostic": [b.diagnostic_text for b in report.recipients],
    }
    if problems:
        return Outcome.DEVIATION, "; ".join(problems), measured
    if not failed:
        return Outcome.INFO, "well-formed, but no recipient marked failed", measured
    return (
        Outcome.PASS,
        "multipart/report with Final-Recipient, Action, Status and the remote reply",
        measured,
    )


def _duplicates(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    copies = [f.deliveries for f in e.fates]
    extra = sum(max(0, n - 1) for n in copies)
    measured: dict[str, object] = {"deliveries": copies, "duplicates": extra}
    return Outcome.INFO, f"{extra} duplicate deliveries over {len(copies)} recipient(s)", measured


def _peak(spans: list[tuple[float, float]]) -> int:
    """The most sessions open at one moment, from (start, end) spans."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = current = 0
    for _, step in edges:  # at equal times an end (-1) sorts first: touching is not overlapping
        current += step
        peak = max(peak, current)
    return peak


def _sessions_under_421(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """How the sender's concurrency met a receiver that answers 421 above a session limit:
    how many sessions it opened at once, how many were turned away, and how many it still
    opened at once afterwards (backing off, or not)."""
    e = check.evidence
    spans = [(a.t, a.t + a.duration) for a in e.attempts]
    refused = [a for a in e.attempts if (a.reply or "").startswith("421")]
    measured: dict[str, object] = {"peak_sessions": _peak(spans), "refused_421": len(refused)}
    if not refused:
        return Outcome.NOT_APPLICABLE, "no session was turned away with 421", measured
    first = min(a.t for a in refused)
    after = _peak([(start, end) for start, end in spans if start > first])
    measured |= {"first_421": round(first), "peak_sessions_after_first_421": after}
    detail = (
        f"up to {measured['peak_sessions']} sessions at once; {len(refused)} turned away with "
        f"421 (the first at {format_duration(first)}); afterwards up to {after} at once"
    )
    return Outcome.INFO, detail, measured


def _waited(minimum: float, what: str) -> CheckFunction:
    def check(check_input: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
        e = check_input.evidence
        if not e.attempts:
            return Outcome.NOT_APPLICABLE, "no attempt reached the receiver", {}
        longest = max(a.duration for a in e.attempts)
        delivered = _fates(e) & {Fate.DELIVERED, Fate.DUPLICATED}
        measured: dict[str, object] = {"longest_wait": round(longest), "fates": e.counts()}
        if longest >= minimum or delivered:
            return Outcome.PASS, f"waited {format_duration(longest)} for the {what}", measured
        waited, limit = format_duration(longest), format_duration(minimum)
        detail = f"gave up on the {what} after {waited}, under {limit}"
        return Outcome.DEVIATION, detail, measured

    return check


#: Real seconds a session the server left silent may still be open at the end of observation
#: before the check says no timeout ended it: far beyond every timeout the bundled senders set
#: (the longest, nullmailer's `sendtimeout`, is an hour; RFC 5321's per-command minimums are
#: 2 to 10 minutes).
NO_TIMEOUT_AFTER = DAY


def _client_timeout(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 5321 4.5.3.2: "An SMTP client MUST provide a timeout mechanism". A session the
    receiver left without a reply and that was still open when observation ended, after more
    than NO_TIMEOUT_AFTER, is one no timeout ended: a deviation. Still open after less is
    recorded (info); every such session ended by the sender passes."""
    e = check.evidence
    silent = [a for a in e.attempts if a.reply is None]
    if not silent:
        return Outcome.NOT_APPLICABLE, "the receiver left no session silent", {}
    still_open = [e.observed_for - a.t for a in silent if e.still_open(a)]
    ended = [a.duration for a in silent if not e.still_open(a)]
    longest_open = max(still_open, default=None)
    measured: dict[str, object] = {
        "silent_sessions": len(silent),
        "still_open": len(still_open),
        "longest_open": None if longest_open is None else round(longest_open),
        "longest_ended": round(max(ended)) if ended else None,
    }
    if longest_open is not None and longest_open > NO_TIMEOUT_AFTER:
        waited = format_duration(longest_open)
        detail = (
            f"a session the receiver left silent was still open after {waited}: no timeout ended it"
        )
        return Outcome.DEVIATION, detail, measured
    if longest_open is not None:
        waited = format_duration(longest_open)
        return (
            Outcome.INFO,
            f"a silent session was still open after {waited} when observation ended",
            measured,
        )
    longest = format_duration(max(ended))
    return (
        Outcome.PASS,
        f"the sender ended every silent session, the longest after {longest}",
        measured,
    )


def _class_reading(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    retried = any(len(times) >= 2 for times in _per_message(e))
    bounced = Fate.BOUNCED in _fates(e)
    reading = (
        "temporary (retried)"
        if retried and not bounced
        else "permanent (bounced)"
        if bounced
        else "undecided"
    )
    measured: dict[str, object] = {"attempts": len(e.attempts), "fates": e.counts()}
    return Outcome.INFO, f"treated as {reading}", measured


def _give_up_days(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    e = check.evidence
    bounced = [f.settled_t or 0 for f in e.fates if f.fate is Fate.BOUNCED]
    measured: dict[str, object] = {"fates": e.counts(), "bounced_at": [round(t) for t in bounced]}
    if not bounced:
        if Fate.LOST in _fates(e):
            return Outcome.DEVIATION, "mail was lost", measured
        return Outcome.PASS, f"still trying after {format_duration(e.observed_for)}", measured
    earliest, u = min(bounced), check.time_uncertainty
    measured["uncertainty"] = round(u)
    window = check.give_up_window
    if window is not None and window.earliest - u <= earliest <= window.latest + 2 * u:
        # the DSN's own way back to the receiver can add up to one more tick: 2u above
        measured |= {
            "configured_give_up": round(window.stock_seconds),
            "judged_on": "configuration",
        }
        outcome = _at_least(window.stock_seconds, 4 * DAY, 0.0)
        detail = (
            f"gave up after {_pm(earliest, u)} measured, in the window "
            f"{format_duration(window.earliest)} to {format_duration(window.latest)} of this run; "
            f"its configuration gives up after {format_duration(window.stock_seconds)} "
            f"({window.basis})"
        )
        return outcome, detail + ("" if outcome is Outcome.PASS else ", under 4 days"), measured
    measured["judged_on"] = "measurement"
    outcome = _at_least(earliest, 4 * DAY, u)
    if outcome is Outcome.PASS:
        return outcome, f"gave up after {_pm(earliest, u)}", measured
    if outcome is Outcome.DEVIATION:
        return outcome, f"gave up after {_pm(earliest, u)}, under 4 days", measured
    return outcome, f"gave up after {_pm(earliest, u)}: 4 days is within it", measured


#: Each check id's function; its clause and level come from the catalogue of ids.
_FUNCTIONS: dict[str, CheckFunction] = {
    "retried": _retried,
    "retried-452": _retried_452,
    "retried-after-drop": _retried,
    "no-repeat-after-5xx": _no_repeat,
    "no-repeat-after-eod-5xx": _no_repeat,
    "queued-not-bounced": _queued_not_bounced,
    "retry-delayed": _retry_delayed,
    "retry-interval-30m": _retry_interval_30m,
    "give-up-4d": _give_up_days,
    "delivered-after-recovery": _delivered_after_recovery,
    "dsn-sent": _dsn_sent,
    "dsn-null-sender": _dsn_null_sender,
    "dsn-format": _dsn_format,
    "duplicates": _duplicates,
    "sessions-under-421": _sessions_under_421,
    "greeting-timeout-5m": _waited(5 * MINUTE, "greeting"),
    "eod-timeout-10m": _waited(10 * MINUTE, "end-of-data reply"),
    "client-timeout": _client_timeout,
    "code-class-reading": _class_reading,
    **MX_CHECKS,
}
if _FUNCTIONS.keys() != CHECK_CLAUSES.keys():  # a programming error: say which ids differ
    raise RuntimeError(
        f"check ids without a function: {sorted(CHECK_CLAUSES.keys() - _FUNCTIONS.keys())}, "
        f"functions without an id: {sorted(_FUNCTIONS.keys() - CHECK_CLAUSES.keys())}"
    )

CHECKS: dict[str, CheckSpec] = {
    check_id: CheckSpec(entry.clause, entry.level, _FUNCTIONS[check_id])
    for check_id, entry in CHECK_CLAUSES.items()
}


def run_checks(ids: tuple[str, ...], check_input: CheckInput) -> tuple[Check, ...]:
    """Judge the checks named by `ids` (scenario files name them) on one case's evidence."""
    results = []
    for check_id in ids:
        spec = CHECKS[check_id]
        outcome, detail, measured = spec.function(check_input)
        results.append(
            Check(spec.clause, spec.level, outcome, detail, {"check": check_id, **measured})
        )
    return tuple(results)
