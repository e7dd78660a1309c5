"""The results of a conformance run: what `matrix.json` holds and every report is drawn from.

One `CaseResult` per scenario x target: the message fates, every delivery attempt the receiver
saw, the DSN that came back, and the checks against RFC clauses with the values measured. All
times are real MTA seconds since the message was injected (wall seconds times the time scale),
so results from runs at different time scales compare directly. `SCHEMA_VERSION` changes when a
field changes meaning; readers refuse versions they do not know.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1


class Fate(StrEnum):
    """What became of one recipient of one message, once observation ended."""

    DELIVERED = "delivered"  #: accepted by the receiver exactly once
    DUPLICATED = "duplicated"  #: accepted more than once
    BOUNCED = "bounced"  #: a failure DSN came back and it was never delivered
    QUEUED = "queued"  #: still in the sender's queue when observation ended
    LOST = "lost"  #: neither delivered, nor bounced, nor queued: the worst outcome


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MUST_NOT = "MUST NOT"
    INFO = "—"  #: a measurement tied to a clause without a requirement (RFC 1047, RFC 3463)


class Outcome(StrEnum):
    PASS = "pass"
    DEVIATION = "deviation"  #: the MTA does not do what the clause says (a result, not an error)
    NOT_APPLICABLE = "not applicable"  #: the case did not exercise the clause
    INFO = "info"  #: recorded, not judged


@dataclass(frozen=True)
class Attempt:
    """One SMTP session the receiver saw for a case."""

    t: float  #: real seconds since injection
    stage: str  #: the last stage the session reached (greeting, ehlo, mail, rcpt, data, eod, quit)
    reply: str | None  #: the receiver's last reply, None when it sent none (drop, stall)
    message_id: str | None = None  #: None when the session ended before MAIL named a message
    listener: str = ""
    duration: float = 0.0  #: real seconds from connect to disconnect (or to observation's end)


@dataclass(frozen=True)
class DsnEvidence:
    """The DSN that came back for a case's message (the first one, when several did)."""

    t: float  #: real seconds since injection
    action: str
    status: str
    final_recipient: str
    diagnostic_code: str | None
    remote_reply_code: int | None
    will_retry_until: str | None
    well_formed: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecipientFate:
    message_id: str
    recipient: str
    fate: Fate
    deliveries: int  #: how many times the receiver accepted it
    settled_t: float | None = None  #: delivered or bounced at (real seconds), when it did
    next_attempt_t: float | None = None  #: for queued: the sender's next attempt (real seconds)


@dataclass(frozen=True)
class Check:
    clause: str  #: e.g. "RFC5321 4.2.1"
    level: Level
    outcome: Outcome
    detail: str  #: one sentence: what was expected and what was seen
    measured: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseResult:
    scenario: str
    target: str
    description: str
    time_scale: float
    fates: dict[str, int]  #: count per Fate value, all five keys present
    recipients: tuple[RecipientFate, ...]
    attempts: tuple[Attempt, ...]
    dsn: DsnEvidence | None
    checks: tuple[Check, ...]
    journal_excerpt: tuple[str, ...] = ()  #: a few lines of the receiver's journal
    observed_for: float = 0.0  #: real seconds observed after injection
    error: str | None = None  #: a harness error: the case could not be measured

    @property
    def verdict(self) -> str:
        """pass, deviation (a SHOULD/MUST not met), error, or info (nothing judged)."""
        if self.error:
            return "error"
        outcomes = {check.outcome for check in self.checks}
        if Outcome.DEVIATION in outcomes:
            return "deviation"
        return "pass" if Outcome.PASS in outcomes else "info"


@dataclass(frozen=True)
class ScheduleParameter:
    """A time parameter of the target that the compression distorted, when the schedule ran."""

    name: str
    default_seconds: float  #: the MTA's default, real seconds
    configured_seconds: float  #: what it was given, wall seconds
    effective_real_seconds: float  #: what that amounts to in real time
    note: str = ""  #: why it is not exact

    @property
    def distortion(self) -> float | None:
        """Effective over default (1.0 is exact); None when the default is 0 (off)."""
        return self.effective_real_seconds / self.default_seconds if self.default_seconds else None


@dataclass(frozen=True)
class TargetSchedule:
    """One target's retry schedule for one undeliverable message, in real seconds since injection.

    Measured by `mailstorm schedule` (or by the matrix runner) apart from the matrix's cases, and
    attached to the target it was measured on (`harness.report.schedule_section`).
    """

    target: str
    version: str  #: the MTA version the schedule was measured on
    variant: str  #: how the receiver failed: `4xx`, `blackhole`, `refused`
    method: str  #: `scaled-config` (settings divided by k) or `clock-warp` (clock sped up by k)
    time_scale: float  #: k, the compression the schedule was measured at
    attempts: tuple[float, ...]  #: the start of every attempt, sorted
    warning: float | None  #: a delay-warning DSN came back at; None if none did
    give_up: float | None  #: the MTA gave up (bounced) at; None if it had not by the end
    observed_for: float
    checks: tuple[Check, ...] = ()  #: RFC 5321 4.5.4.1: retry-delayed, 30-minute interval, 4 days
    distorted: tuple[ScheduleParameter, ...] = ()

    @property
    def intervals(self) -> tuple[float, ...]:
        return tuple(b - a for a, b in itertools.pairwise(self.attempts))

    @property
    def first_retry(self) -> float | None:
        """Delay from the first attempt to the second: the MTA's first backoff."""
        return self.intervals[0] if self.intervals else None

    @property
    def median_interval(self) -> float | None:
        return statistics.median(self.intervals) if self.intervals else None

    @property
    def longest_interval(self) -> float | None:
        """The cap the backoff reached."""
        return max(self.intervals) if self.intervals else None

    def to_json_data(self) -> dict[str, Any]:
        """The fields, with the intervals derived from the attempts written after them.

        The derived values are for readers of `matrix.json`; they are not read back.
        """
        rest = asdict(self)
        head = {key: rest.pop(key) for key in _SCHEDULE_HEAD}
        derived = {
            "first_retry": self.first_retry,
            "intervals": [round(interval, 3) for interval in self.intervals],
            "median_interval": self.median_interval,
            "longest_interval": self.longest_interval,
        }
        return head | derived | rest


#: The fields of a schedule written before its derived intervals in `matrix.json`.
_SCHEDULE_HEAD = ("target", "version", "variant", "method", "time_scale", "attempts")


@dataclass(frozen=True)
class TargetInfo:
    name: str
    version: str
    package_version: str
    time_scales: tuple[float, ...]
    parameters: tuple[dict[str, Any], ...] = ()  #: scaled parameters and their distortion
    schedule: TargetSchedule | None = None  #: its retry schedule, when one was measured


@dataclass(frozen=True)
class Matrix:
    run_id: str
    created: str  #: ISO 8601, UTC
    targets: tuple[TargetInfo, ...]
    cases: tuple[CaseResult, ...]
    schema_version: int = SCHEMA_VERSION

    def case(self, scenario: str, target: str) -> CaseResult | None:
        for case in self.cases:
            if (case.scenario, case.target) == (scenario, target):
                return case
        return None

    def to_json_data(self) -> dict[str, Any]:
        data = asdict(self)
        for case, raw in zip(self.cases, data["cases"], strict=True):
            raw["verdict"] = case.verdict
        for target, raw in zip(self.targets, data["targets"], strict=True):
            if target.schedule is not None:
                raw["schedule"] = target.schedule.to_json_data()
        return data


def empty_fates() -> dict[str, int]:
    return {fate.value: 0 for fate in Fate}
