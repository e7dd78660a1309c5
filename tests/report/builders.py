"""Realistic synthetic matrices for the report tests: no MTA needed, every shape a run produces.

The schedules follow the real defaults (Postfix: 300 s minimal backoff doubling to 4000 s, give
up after 5 days; Exim's Debian retry rule F,2h,15m; G,16h,1h,1.5; F,4d,6h), so plots and
timelines are exercised on the data they will see. The cases cover every outcome, every verdict,
a harness error, a case without DSN, several recipients, a duplicate, and text from the wire
that needs escaping (`<user@…>`, `&`, a `</script>`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from harness.results import (
    Attempt,
    CaseResult,
    Check,
    DsnEvidence,
    Fate,
    Level,
    Matrix,
    Method,
    Outcome,
    RecipientFate,
    ScaledParameter,
    Schedule,
    TargetInfo,
    empty_fates,
)

DAY = 86400.0
HOUR = 3600.0
MINUTE = 60.0
SCALE = 60.0
RCPT = "user@libero.test"
NASTY = '</script><script>alert("x")</script> & <b>bold</b>'

SCENARIOS = (
    "rcpt-450",
    "rcpt-550",
    "rcpt-mixed",
    "code-class-mismatch-450-5.1.1",
    "disconnect-after-dot",
    "greylist",
    "outage-72h-550",
    "outage-132h-451",
)


def message_id(n: int) -> str:
    return f"ms{n:032x}"


def postfix_schedule(until: float) -> Iterator[float]:
    """Postfix's default attempt times: 0, then backoff 300 s doubling, capped at 4000 s."""
    t, delay = 0.0, 300.0
    while t <= until:
        yield t
        t += delay
        delay = min(delay * 2, 4000.0)


def exim_schedule(until: float) -> Iterator[float]:
    """Exim's Debian retry rule: every 15m for 2h, then 1h growing x1.5 to 16h, then every 6h."""
    t = 0.0
    while t <= until:
        yield t
        if t < 2 * HOUR:
            t += 15 * MINUTE
        elif t < 16 * HOUR:
            t += max(HOUR, (t - 2 * HOUR) * 0.5 + HOUR)
        else:
            t += 6 * HOUR


def attempts(times: Iterator[float], stage: str, reply: str | None, n: int) -> list[Attempt]:
    return [
        Attempt(t=round(t, 3), stage=stage, reply=reply, message_id=message_id(n), listener="mx")
        for t in times
    ]


def fates(**counts: int) -> dict[str, int]:
    result = empty_fates()
    result.update(counts)
    return result


def check(clause: str, level: Level, outcome: Outcome, detail: str, **measured: Any) -> Check:
    return Check(clause, level, outcome, detail, dict(measured))


def dsn(t: float, status: str, reply: str | None, code: int | None) -> DsnEvidence:
    return DsnEvidence(
        t=t,
        action="failed",
        status=status,
        final_recipient=f"rfc822;{RCPT}",
        diagnostic_code=f"smtp; {reply}" if reply else None,
        remote_reply_code=code,
        will_retry_until=None,
        well_formed=True,
    )


def case(
    scenario: str,
    target: str,
    n: int,
    *,
    counts: dict[str, int],
    recipients: list[tuple[str, Fate, int, float | None, float | None]] | None = None,
    tries: list[Attempt],
    dsn_evidence: DsnEvidence | None = None,
    checks: list[Check],
    observed_for: float,
    error: str | None = None,
    description: str | None = None,
) -> CaseResult:
    rows = recipients or []
    last_reply = next((a.reply for a in reversed(tries) if a.reply), "no reply")
    return CaseResult(
        scenario=scenario,
        target=target,
        description=description or f"receiver answers the {scenario} fault plan",
        time_scale=SCALE,
        fates=counts,
        recipients=tuple(
            RecipientFate(message_id(n), rcpt, fate, deliveries, settled, next_at)
            for rcpt, fate, deliveries, settled, next_at in rows
        ),
        attempts=tuple(tries),
        dsn=dsn_evidence,
        checks=tuple(checks),
        journal_excerpt=(
            f"connect from 172.18.0.3 ({target}.mailstorm.test)",
            f"C: MAIL FROM:<mailstorm+{message_id(n)}@sender.test>",
            f"C: RCPT TO:<{RCPT}>",
            f"S: {last_reply}",
            "decision rule 0 & done",
        ),
        observed_for=observed_for,
        error=error,
    )


def targets() -> tuple[TargetInfo, ...]:
    def parameter(name: str, default: float, configured: float, note: str = "") -> dict[str, Any]:
        effective = configured * SCALE
        return {
            "name": name,
            "default_seconds": default,
            "configured_seconds": configured,
            "effective_real_seconds": effective,
            "exact": effective == default,
            "note": note,
        }

    return (
        TargetInfo(
            name="postfix",
            version="3.7.11",
            package_version="3.7.11-0+deb12u1",
            time_scales=(SCALE,),
            parameters=(
                parameter("queue_run_delay", 300, 5),
                parameter("minimal_backoff_time", 300, 5),
                parameter("maximal_backoff_time", 4000, 67, "wanted 66.7s, whole seconds"),
                parameter("smtp_connect_timeout", 30, 1, "wanted 0.5s, at least 1s"),
                parameter("maximal_queue_lifetime", 5 * DAY, 7200),
            ),
        ),
        TargetInfo(
            name="exim",
            version="4.96",
            package_version="4.96-15+deb12u5",
            time_scales=(SCALE,),
            parameters=(parameter("retry F,2h,15m", 900, 15),),
        ),
    )


def postfix_cases() -> list[CaseResult]:
    t = "postfix"
    should_interval = check(
        "RFC5321 4.5.4.1",
        Level.SHOULD,
        Outcome.DEVIATION,
        "retry interval should be at least 30m; the first retry came after 5m",
        first_retry_s=300.0,
        minimum_s=1800.0,
    )
    retried = check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "4yz was retried", attempts=12)
    queued = check(
        "RFC5321 4.5.4.1", Level.MUST, Outcome.PASS, "the message stayed queued and was retried"
    )
    return [
        case(
            "rcpt-450",
            t,
            1,
            counts=fates(queued=1),
            recipients=[(RCPT, Fate.QUEUED, 0, None, 6 * HOUR + 1234.5)],
            tries=attempts(
                postfix_schedule(6 * HOUR), "rcpt", "450 4.2.0 <user@libero.test> busy", 1
            ),
            checks=[retried, queued, should_interval],
            observed_for=6 * HOUR,
        ),
        case(
            "rcpt-550",
            t,
            2,
            counts=fates(bounced=1),
            recipients=[(RCPT, Fate.BOUNCED, 0, 2.5, None)],
            tries=attempts(
                iter([0.0]), "rcpt", "550 5.1.1 <user@libero.test> recipient rejected", 2
            ),
            dsn_evidence=dsn(2.5, "5.1.1", "550 5.1.1 <user@libero.test> recipient rejected", 550),
            checks=[
                check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "5yz was not repeated"),
                check("RFC3464", Level.MUST, Outcome.PASS, "the DSN is well formed"),
                check("RFC5321 6.1", Level.MUST, Outcome.PASS, "the DSN has the null sender"),
            ],
            observed_for=2 * HOUR,
            description=f"550 at RCPT; description with markup {NASTY}",
        ),
        case(
            "rcpt-mixed",
            t,
            3,
            counts=fates(delivered=1, bounced=1, queued=1),
            recipients=[
                ("a@libero.test", Fate.DELIVERED, 1, 0.4, None),
                ("b@libero.test", Fate.QUEUED, 0, None, 7200.0),
                ("c@libero.test", Fate.BOUNCED, 0, 3.0, None),
            ],
            tries=attempts(postfix_schedule(2 * HOUR), "data", "250 2.0.0 queued as 4F1", 3),
            dsn_evidence=dsn(3.0, "5.1.1", "550 5.1.1 <c@libero.test> unknown", 550),
            checks=[
                check("RFC2920", Level.MUST, Outcome.PASS, "every RCPT status was honoured"),
                check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "only the 450 was retried"),
            ],
            observed_for=2 * HOUR,
        ),
        case(
            "code-class-mismatch-450-5.1.1",
            t,
            4,
            counts=fates(queued=1),
            recipients=[(RCPT, Fate.QUEUED, 0, None, 9000.0)],
            tries=attempts(postfix_schedule(2 * HOUR), "rcpt", "450 5.1.1 <user@libero.test>", 4),
            checks=[
                check("RFC5321 4.2", Level.MUST, Outcome.PASS, "the first digit (4) ruled"),
                check(
                    "RFC3463", Level.INFO, Outcome.INFO, "treated as temporary", basic=4, enhanced=5
                ),
            ],
            observed_for=2 * HOUR,
        ),
        case(
            "disconnect-after-dot",
            t,
            5,
            counts=fates(duplicated=1),
            recipients=[(RCPT, Fate.DUPLICATED, 2, 930.0, None)],
            tries=[
                Attempt(0.0, "eod", None, message_id(5), "mx"),
                Attempt(930.0, "quit", "221 2.0.0 bye", message_id(5), "mx"),
            ],
            checks=[
                check("RFC1047", Level.INFO, Outcome.INFO, "delivered twice", duplicates=1),
                check("RFC5321 3.8", Level.SHOULD, Outcome.PASS, "the drop was retried"),
            ],
            observed_for=2 * HOUR,
        ),
        case(
            "greylist",
            t,
            6,
            counts=fates(delivered=1),
            recipients=[(RCPT, Fate.DELIVERED, 1, 600.0, None)],
            tries=[
                Attempt(0.0, "rcpt", "451 4.7.1 greylisted, try later", message_id(6), "mx"),
                Attempt(600.0, "quit", "221 2.0.0 bye", message_id(6), "mx"),
            ],
            checks=[retried, check("RFC3461", Level.MUST, Outcome.NOT_APPLICABLE, "no NOTIFY")],
            observed_for=HOUR,
        ),
        case(
            "outage-72h-550",
            t,
            7,
            counts=fates(bounced=1),
            recipients=[(RCPT, Fate.BOUNCED, 0, 1.2, None)],
            tries=attempts(
                iter([0.0]), "rcpt", "550 5.1.1 <user@libero.test> recipient rejected", 7
            ),
            dsn_evidence=dsn(1.2, "5.1.1", "550 5.1.1 <user@libero.test> recipient rejected", 550),
            checks=[
                check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "5yz: not retried, bounced"),
                check("RFC5321 4.5.4.1", Level.MUST, Outcome.NOT_APPLICABLE, "nothing queued"),
            ],
            observed_for=4 * DAY,
        ),
        case(
            "outage-132h-451",
            t,
            8,
            counts=fates(bounced=1),
            recipients=[(RCPT, Fate.BOUNCED, 0, 5 * DAY + 240.0, None)],
            tries=attempts(postfix_schedule(5 * DAY), "rcpt", "451 4.3.0 try again later", 8),
            dsn_evidence=dsn(5 * DAY + 240.0, "4.3.0", "451 4.3.0 try again later", 451),
            checks=[
                queued,
                check(
                    "RFC5321 4.5.4.1",
                    Level.SHOULD,
                    Outcome.PASS,
                    "gave up after 5d",
                    give_up_s=432240.0,
                ),
            ],
            observed_for=5.5 * DAY,
        ),
    ]


def exim_cases() -> list[CaseResult]:
    t = "exim"
    return [
        case(
            "rcpt-450",
            t,
            11,
            counts=fates(queued=1),
            recipients=[(RCPT, Fate.QUEUED, 0, None, 6 * HOUR + 1800.0)],
            tries=attempts(
                exim_schedule(6 * HOUR), "rcpt", "450 4.2.0 <user@libero.test> busy", 11
            ),
            checks=[
                check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "4yz was retried", attempts=10),
                check("RFC5321 4.5.4.1", Level.MUST, Outcome.PASS, "queued and retried"),
                check(
                    "RFC5321 4.5.4.1",
                    Level.SHOULD,
                    Outcome.DEVIATION,
                    "retry interval should be at least 30m; retries came every 15m",
                    first_retry_s=900.0,
                ),
            ],
            observed_for=6 * HOUR,
        ),
        case(
            "rcpt-550",
            t,
            12,
            counts=fates(bounced=1),
            recipients=[(RCPT, Fate.BOUNCED, 0, 1.0, None)],
            tries=attempts(
                iter([0.0]), "rcpt", "550 5.1.1 <user@libero.test> recipient rejected", 12
            ),
            dsn_evidence=dataclasses.replace(
                dsn(1.0, "5.0.0", "550 5.1.1 <user@libero.test> recipient rejected", 550),
                well_formed=False,
                problems=("Status 5.0.0 does not carry the remote 5.1.1",),
            ),
            checks=[
                check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "5yz was not repeated"),
                check(
                    "RFC3464",
                    Level.MUST,
                    Outcome.DEVIATION,
                    "Status should carry the remote <5.1.1>; the DSN says 5.0.0",
                    status="5.0.0",
                ),
                check("RFC5321 6.1", Level.MUST, Outcome.PASS, "the DSN has the null sender"),
            ],
            observed_for=2 * HOUR,
            description=f"550 at RCPT; description with markup {NASTY}",
        ),
        case(
            "rcpt-mixed",
            t,
            13,
            counts=fates(delivered=1, bounced=1, queued=1),
            recipients=[
                ("a@libero.test", Fate.DELIVERED, 1, 0.3, None),
                ("b@libero.test", Fate.QUEUED, 0, None, 8100.0),
                ("c@libero.test", Fate.BOUNCED, 0, 2.0, None),
            ],
            tries=attempts(exim_schedule(2 * HOUR), "data", "250 OK id=1q2w3e", 13),
            dsn_evidence=dsn(2.0, "5.1.1", "550 5.1.1 <c@libero.test> unknown", 550),
            checks=[
                check("RFC2920", Level.MUST, Outcome.PASS, "every RCPT status was honoured"),
                check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "only the 450 was retried"),
            ],
            observed_for=2 * HOUR,
        ),
        case(
            "code-class-mismatch-450-5.1.1",
            t,
            14,
            counts=fates(bounced=1),
            recipients=[(RCPT, Fate.BOUNCED, 0, 0.8, None)],
            tries=attempts(iter([0.0]), "rcpt", "450 5.1.1 <user@libero.test>", 14),
            dsn_evidence=dsn(0.8, "5.1.1", "450 5.1.1 <user@libero.test>", 450),
            checks=[
                check(
                    "RFC5321 4.2",
                    Level.MUST,
                    Outcome.DEVIATION,
                    "a 4yz reply must be temporary; the enhanced 5.1.1 made it bounce",
                    basic=4,
                    enhanced=5,
                ),
                check("RFC3463", Level.INFO, Outcome.INFO, "treated as permanent"),
            ],
            observed_for=2 * HOUR,
        ),
        case(
            "disconnect-after-dot",
            t,
            15,
            counts=fates(delivered=1),
            recipients=[(RCPT, Fate.DELIVERED, 1, 0.5, None)],
            tries=[Attempt(0.0, "eod", None, message_id(15), "mx")],
            checks=[
                check("RFC1047", Level.INFO, Outcome.INFO, "no duplicate", duplicates=0),
                check(
                    "RFC5321 3.8",
                    Level.SHOULD,
                    Outcome.DEVIATION,
                    "a dropped connection should be retried like a 451; it was not",
                ),
            ],
            observed_for=2 * HOUR,
        ),
        case(
            "greylist",
            t,
            16,
            counts=fates(),
            tries=[],
            checks=[],
            observed_for=0.0,
            error="exim did not start: container exited with code 1 (see the log tail) <exim>",
        ),
        case(
            "outage-72h-550",
            t,
            17,
            counts=fates(bounced=1),
            recipients=[(RCPT, Fate.BOUNCED, 0, 0.9, None)],
            tries=attempts(
                iter([0.0]), "rcpt", "550 5.1.1 <user@libero.test> recipient rejected", 17
            ),
            dsn_evidence=dsn(0.9, "5.1.1", "550 5.1.1 <user@libero.test> recipient rejected", 550),
            checks=[
                check("RFC5321 4.2.1", Level.SHOULD, Outcome.PASS, "5yz: not retried, bounced"),
                check("RFC5321 4.5.4.1", Level.MUST, Outcome.NOT_APPLICABLE, "nothing queued"),
            ],
            observed_for=4 * DAY,
        ),
        case(
            "outage-132h-451",
            t,
            18,
            counts=fates(bounced=1),
            recipients=[(RCPT, Fate.BOUNCED, 0, 4 * DAY + 60.0, None)],
            tries=attempts(exim_schedule(4 * DAY), "rcpt", "451 4.3.0 try again later", 18),
            dsn_evidence=dsn(4 * DAY + 60.0, "4.3.0", "451 4.3.0 try again later", 451),
            checks=[
                check("RFC5321 4.5.4.1", Level.MUST, Outcome.PASS, "queued and retried"),
                check("RFC5321 4.5.4.1", Level.SHOULD, Outcome.PASS, "gave up after 4d"),
            ],
            observed_for=5.5 * DAY,
        ),
    ]


def build_matrix() -> Matrix:
    """Eight scenarios x postfix, exim, cases in catalogue order, postfix before exim."""
    by_key = {(c.scenario, c.target): c for c in [*postfix_cases(), *exim_cases()]}
    cases = tuple(by_key[(s, t)] for s in SCENARIOS for t in ("postfix", "exim"))
    return Matrix(
        run_id="20240123T140000Z-matrix",
        created="2024-01-23T14:00:00Z",
        targets=targets(),
        cases=cases,
    )


def replace_case(matrix: Matrix, scenario: str, target: str, **changes: Any) -> Matrix:
    """`matrix` with one case changed (dataclasses.replace on it)."""
    cases = tuple(
        dataclasses.replace(c, **changes) if (c.scenario, c.target) == (scenario, target) else c
        for c in matrix.cases
    )
    return dataclasses.replace(matrix, cases=cases)


def without_case(matrix: Matrix, scenario: str, target: str) -> Matrix:
    cases = tuple(c for c in matrix.cases if (c.scenario, c.target) != (scenario, target))
    return dataclasses.replace(matrix, cases=cases)


def target_schedules() -> dict[str, Schedule]:
    """Each target's 4xx schedule with its real defaults: Postfix's 5-day give-up without a
    warning, Exim's warning at 24 h and give-up at 4 days."""
    retry_delayed = check(
        "RFC5321 4.5.4.1", Level.MUST, Outcome.PASS, "first retry after 5m, not at once"
    )
    postfix_times = tuple(postfix_schedule(5 * DAY))
    exim_times = tuple(exim_schedule(4 * DAY))
    return {
        "postfix": Schedule(
            target="postfix",
            version="3.7.11",
            variant="4xx",
            method=Method.SCALED_CONFIG,
            time_scale=1440.0,
            attempts=postfix_times,
            warning=None,
            give_up=5 * DAY + 30 * MINUTE,
            observed_for=6 * DAY,
            checks=(
                retry_delayed,
                check(
                    "RFC5321 4.5.4.1",
                    Level.SHOULD,
                    Outcome.DEVIATION,
                    "an interval of 5m is under 30 minutes",
                    shortest_interval_s=300.0,
                ),
            ),
            parameters=(
                ScaledParameter(
                    "minimal_backoff_time", 300, 1, 1440.0, "wanted 0.208s, at least 1s"
                ),
            ),
        ),
        "exim": Schedule(
            target="exim",
            version="4.96",
            variant="4xx",
            method=Method.CLOCK_WARP,
            time_scale=2880.0,
            attempts=exim_times,
            warning=DAY - 4 * MINUTE,
            give_up=4 * DAY + 5 * MINUTE,
            observed_for=4 * DAY + 5 * MINUTE,
            checks=(retry_delayed,),
        ),
    }


def build_matrix_with_schedules() -> Matrix:
    """`build_matrix()` with each target's retry schedule attached."""
    matrix = build_matrix()
    found = target_schedules()
    targets = tuple(dataclasses.replace(t, schedule=found[t.name]) for t in matrix.targets)
    return dataclasses.replace(matrix, targets=targets)
