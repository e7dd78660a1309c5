"""Evidence and schedules built by hand, for the unit tests of derivation and agreement."""

from __future__ import annotations

from collections.abc import Sequence

from harness.dsn import DeliveryReport, RecipientStatus
from harness.ledger import CaseEvidence
from harness.receiver import MessageRecord
from harness.results import Attempt, Fate, RecipientFate, Schedule
from harness.targets import ScaledParameter

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
RECIPIENT = "user@schedule-4xx.mailstorm.test"


def dsn(t: float, action: str) -> tuple[float, MessageRecord, DeliveryReport]:
    record = MessageRecord(1, 1, 0.0, 0.0, None, "", ("b@bounce.test",), True, "ms1", 0, b"")
    block = RecipientStatus(RECIPIENT, action, "4.3.0")
    report = DeliveryReport((block,), "x.test", None, None, "ms1", "", ())
    return t, record, report


def evidence(
    times: Sequence[float],
    *,
    dsns: Sequence[tuple[float, str]] = (),
    bounced_at: float | None = None,
    observed_for: float = 6 * DAY,
) -> CaseEvidence:
    fate = RecipientFate(
        "ms1",
        RECIPIENT,
        Fate.BOUNCED if bounced_at is not None else Fate.QUEUED,
        0,
        settled_t=bounced_at,
    )
    # Out of order on purpose: the ledger lists attempts by session, not by time.
    attempts = tuple(
        Attempt(t=t, stage="rcpt", reply="451 4.3.0 x", message_id="ms1") for t in reversed(times)
    )
    return CaseEvidence(
        (fate,),
        attempts,
        tuple(dsn(t, action) for t, action in dsns),
        (),
        (),
        observed_for=observed_for,
    )


def schedule(
    times: Sequence[float],
    *,
    time_scale: float,
    warning: float | None = None,
    give_up: float | None = None,
    parameters: Sequence[ScaledParameter] = (),
) -> Schedule:
    return Schedule(
        target="postfix",
        version="3.7.11",
        variant="4xx",
        time_scale=time_scale,
        attempts=tuple(times),
        warning=warning,
        give_up=give_up,
        observed_for=6 * DAY,
        parameters=tuple(parameters),
    )
