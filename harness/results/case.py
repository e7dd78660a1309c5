"""The results of one conformance case: fates, attempts, the DSN, and the checks on them.

One `CaseResult` per scenario x target: the message fates, every delivery attempt the receiver
saw, the DSN that came back, and the checks against RFC clauses with the values measured. All
times are real MTA seconds since the message was injected (wall seconds times the time scale),
so results from runs at different time scales compare directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.results.mx_evidence import Connection, Lookup


class Fate(StrEnum):
    """What became of one recipient of one message, once observation ended."""

    DELIVERED = "delivered"  #: accepted by the receiver exactly once
    DUPLICATED = "duplicated"  #: accepted more than once
    BOUNCED = "bounced"  #: a failure DSN came back and it was never delivered
    QUEUED = "queued"  #: still in the sender's queue when observation ended
    LOST = "lost"  #: neither delivered, nor bounced, nor queued: the worst outcome


class Level(StrEnum):
    """How strongly a clause binds: RFC 2119 words, or a measurement tied to no requirement."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MUST_NOT = "MUST NOT"
    INFO = "—"  #: a measurement tied to a clause without a requirement (RFC 1047, RFC 3463)


class Outcome(StrEnum):
    """What a check found."""

    PASS = "pass"
    DEVIATION = "deviation"  #: the MTA does not do what the clause says (a result, not an error)
    NOT_APPLICABLE = "not applicable"  #: the case did not exercise the clause
    #: the measured value is within its uncertainty of the threshold: neither pass nor deviation
    INCONCLUSIVE = "inconclusive"
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

    @property
    def is_idle(self) -> bool:
        """A session the sender opened and ended itself before naming a message, with nothing
        refused: its last reply was positive. OpenSMTPD opens a second connection to a host
        while the first takes the only message, says EHLO on it and quits (mta_session.c,
        state MTA_READY: no task for the relay). It attempted no delivery, so it is no
        message's attempt, no retry, and no try of its address."""
        return self.message_id is None and (self.reply or "")[:1] in ("2", "3")


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
    """The fate of one recipient of one message, with when it settled."""

    message_id: str
    recipient: str
    fate: Fate
    deliveries: int  #: how many times the receiver accepted it
    settled_t: float | None = None  #: delivered or bounced at (real seconds), when it did
    next_attempt_t: float | None = None  #: for queued: the sender's next attempt (real seconds)
    #: when the message was handed to the sender (real seconds since the case's first one): a
    #: scenario's spread says when it should be; this is when it was
    injected_t: float | None = None


@dataclass(frozen=True)
class Check:
    """One RFC clause judged on one case: the outcome and the values it was judged on."""

    clause: str  #: e.g. "RFC5321 4.2.1"
    level: Level
    outcome: Outcome
    detail: str  #: one sentence: what was expected and what was seen
    measured: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultExercise:
    """How often one fault of a case fired, against how often the scenario needs it to.

    The proof that a cell measured the fault it names: a rule that fired fewer times than
    `needed` makes the case an error ("fault not exercised"), never a pass.
    """

    fault: str  #: the rule as a phrase ("rule 1 'rule 1' (greeting: 421 4.7.0)"), or the refusal
    needed: int
    fired: int
    #: messages the fault kept from the receiver without firing for them: sent while a session
    #: it stalls for ever was open, and never given a session of their own (a sender that
    #: delivers one at a time waits on the stalled one: `harness.cases.exercise`)
    held: int = 0

    @property
    def exercised(self) -> bool:
        return self.fired + self.held >= self.needed


@dataclass(frozen=True)
class CaseResult:
    """One scenario on one target: everything the reports show of that cell."""

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
    exercise: tuple[FaultExercise, ...] = ()  #: each fault's firings (empty: no faults)
    #: ± real seconds on every time that follows the sender's retry clock (attempt times,
    #: intervals, settle and DSN times): how far the MTA's whole-second clock handling can move
    #: them at this time scale (`SenderTarget.retry_uncertainty`); None when not established
    time_uncertainty: float | None = None
    #: DNS/MX cases: every connection to the case's MX hosts (refused ones too), in order
    connections: tuple[Connection, ...] = ()
    #: DNS/MX cases: every question the case's zone was asked
    lookups: tuple[Lookup, ...] = ()
    #: the fate counts are a draw of the sender's own random choices (scenario `fates_vary`)
    fates_vary: bool = False
    #: why the scenario does not apply to this sender, which was therefore not run on it (a
    #: relay to one smarthost looks up no MX, so a DNS/MX scenario tests its smarthost, not it)
    not_applicable: str | None = None

    @property
    def verdict(self) -> str:
        """pass, deviation (a SHOULD/MUST not met), inconclusive (a threshold inside the
        uncertainty, nothing failed), error, info (nothing judged), or n/a (not run: the
        scenario does not apply to the sender)."""
        if self.not_applicable:
            return "n/a"
        if self.error:
            return "error"
        outcomes = {check.outcome for check in self.checks}
        if Outcome.DEVIATION in outcomes:
            return "deviation"
        if Outcome.INCONCLUSIVE in outcomes:
            return "inconclusive"
        return "pass" if Outcome.PASS in outcomes else "info"


def empty_fates() -> dict[str, int]:
    """A fate count with every fate at zero (a case that could not be measured)."""
    return {fate.value: 0 for fate in Fate}
