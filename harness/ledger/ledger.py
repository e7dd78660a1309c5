"""The ledger: one fate per recipient of every injected message, and every attempt, in real time.

Three sources, none complete alone: the scenario receiver's journal (what reached the receiver,
every session), the bounce receiver's journal (the DSNs that came back), and the sender's queue
(what it still holds). A relay with one smarthost sends its DSNs there too (nullmailer), so a
DSN for one of the case's messages in the scenario journal came back as well; its sessions
are the bounce's, not attempts at the message; a bounce that smarthost refuses for now waits
in the sender's queue (dma), and a message whose notice waits there was given up. Joined,
they give exactly one fate per recipient: delivered once, duplicated, bounced, still queued,
or lost — lost being what no source accounts for, the worst outcome and the one the Libero
outage produced.

Times are real MTA seconds since the case's first injection: wall seconds times the time scale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.dsn import DeliveryReport, parse_dsn
from harness.errors import MailstormError
from harness.message_ids import id_from_address
from harness.receiver import (
    CLOSED_AFTER_REPLY,
    GAVE_UP_DURING_STALL,
    EventRecord,
    Journal,
    MessageRecord,
)
from harness.results import Attempt, Connection, Fate, Lookup, RecipientFate
from harness.targets import QueuedMessage, Submission
from harness.waiting import WaitTimeout, wait_until

_STAGE_ORDER = ["greeting", "ehlo", "mail", "rcpt", "data", "bdat", "eod", "quit"]


#: Real seconds: a session whose end is this close to the end of observation was still open.
STILL_OPEN_SLACK = 1.0


class LedgerExpectationError(AssertionError, MailstormError):
    """An expectation on the ledger did not hold; the message lists what did happen."""


@dataclass(frozen=True)
class CaseEvidence:
    """Everything read at one moment, for one case."""

    fates: tuple[RecipientFate, ...]
    attempts: tuple[Attempt, ...]
    dsns: tuple[tuple[float, MessageRecord, DeliveryReport], ...]  #: (t, message, parsed)
    foreign_bounces: tuple[MessageRecord, ...]  #: bounces to our ids from a non-null sender
    journal_excerpt: tuple[str, ...]
    observed_for: float
    #: how often each rule of the plan decided something, by rule index (absent: never)
    rule_firings: Mapping[int, int] = field(default_factory=dict)
    #: the SMTP verbs the sender used (EHLO, MAIL, DATA, BDAT...): what it chose to speak
    commands: frozenset[str] = frozenset()
    #: DNS/MX cases: connections to the MX hosts and the zone's lookups (the engine adds them:
    #: they come from the wire and the harness DNS, not the journals)
    connections: tuple[Connection, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    #: bounce notices for the case's messages still in the sender's queue (a relay's, refused
    #: by its smarthost for now): bounced, but the notice may yet be delivered
    notices_pending: int = 0

    def failure_dsn(self) -> tuple[float, MessageRecord, DeliveryReport] | None:
        """The first DSN that reports a failure (delay warnings come before it, or alone)."""
        for entry in self.dsns:
            if any(block.action == "failed" for block in entry[2].recipients):
                return entry
        return None

    def settled(self) -> bool:
        """Every recipient is delivered (once or more) or bounced, and no notice waits in the
        sender's queue: nothing left to happen."""
        final = {Fate.DELIVERED, Fate.DUPLICATED, Fate.BOUNCED}
        return (
            bool(self.fates)
            and all(f.fate in final for f in self.fates)
            and not self.notices_pending
        )

    def still_open(self, attempt: Attempt) -> bool:
        """Whether the session was still open when the evidence was read: its duration runs
        to the end of observation (the ledger's `now` for a session without a disconnect), to
        within STILL_OPEN_SLACK."""
        return attempt.t + attempt.duration >= self.observed_for - STILL_OPEN_SLACK

    def counts(self) -> dict[str, int]:
        counts = {fate.value: 0 for fate in Fate}
        for fate in self.fates:
            counts[fate.fate.value] += 1
        return counts

    def describe(self) -> str:
        fates = ", ".join(f"{f.recipient}: {f.fate.value}" for f in self.fates)
        attempts = "; ".join(
            f"t={a.t:.0f}s {a.stage} {a.reply or '(no reply)'}" for a in self.attempts[-5:]
        )
        return f"fates [{fates}]; {len(self.attempts)} attempts [{attempts}]; {len(self.dsns)} DSNs"


class Ledger:
    """Follows one case's messages through the receiver journals and the sender's queue."""

    def __init__(
        self,
        *,
        journal: Path,
        bounce_journal: Path,
        time_scale: float,
        queue: Callable[[], Sequence[QueuedMessage]] = lambda: (),
    ) -> None:
        self.journal_path = journal
        self.bounce_journal_path = bounce_journal
        self.time_scale = time_scale
        self._queue = queue
        self.submissions: list[Submission] = []

    def add(self, submission: Submission) -> None:
        self.submissions.append(submission)

    @property
    def start_mono(self) -> float:
        return min(s.mono for s in self.submissions) if self.submissions else 0.0

    def real(self, mono: float) -> float:
        return (mono - self.start_mono) * self.time_scale

    def read(self, now_mono: float) -> CaseEvidence:
        """Join the sources as they are now."""
        ids = {s.message_id for s in self.submissions}
        with Journal(self.journal_path) as journal:
            delivered = [m for m in journal.messages() if m.message_id in ids]
            relayed = journal.dsns() if self.journal_path != self.bounce_journal_path else []
            attempts = self._attempts(journal, now_mono)
            firings = journal.rule_firings()
            commands = frozenset(
                e.text.split(" ", 1)[0].upper() for e in journal.events(kind="command") if e.text
            )
            excerpt = tuple(
                f"t={self.real(e.mono):.0f}s #{e.session_id} {e.kind} {e.text}"[:200]
                for e in journal.events()
                if e.kind in ("command", "reply", "decision", "drop")
            )[:40]
        with Journal(self.bounce_journal_path) as bounces:
            dsns = tuple(
                (self.real(m.mono), m, parse_dsn(m.content))
                for m in sorted([*bounces.dsns(), *relayed], key=lambda m: m.mono)
                if m.dsn_for in ids
            )
            foreign = tuple(m for m in bounces.messages() if not m.is_dsn and _tagged(m, ids))
        held = list(self._queue())
        queued = [q for q in held if q.message_id in ids]
        senders = {s.sender.lower() for s in self.submissions}
        notices = [q for q in held if not q.sender and _addressed_to(q, senders)]
        fates = tuple(
            self._fate(s, r, delivered, dsns, queued, notices, now_mono)
            for s in self.submissions
            for r in s.recipients
        )
        return CaseEvidence(
            fates=fates,
            attempts=attempts,
            dsns=dsns,
            foreign_bounces=foreign,
            journal_excerpt=excerpt,
            observed_for=self.real(now_mono),
            rule_firings=firings,
            commands=commands,
            notices_pending=len(notices),
        )

    def _attempts(self, journal: Journal, now_mono: float) -> tuple[Attempt, ...]:
        sessions = {session.id: session for session in journal.sessions()}
        by_session: dict[int, list[EventRecord]] = {}
        for event in journal.events():
            by_session.setdefault(event.session_id, []).append(event)
        attempts = []
        for session_id, events in sorted(by_session.items()):
            if _carries_a_bounce(events):
                continue  # a relay's DSN on its way through the smarthost: no attempt
            session = sessions.get(session_id)
            start = session.mono if session else events[0].mono
            stage, reply = _decisive(events)
            # A client that gave up during a stall stopped waiting at its FIN, before the
            # receiver's disconnect (the stall ran on); any other FIN still waited for replies.
            ends = [
                e.mono
                for e in events
                if e.kind == "disconnect" or (e.kind == "eof" and e.text == GAVE_UP_DURING_STALL)
            ]
            end = ends[0] if ends else now_mono
            message_id = next((e.message_id for e in events if e.message_id), None)
            attempts.append(
                Attempt(
                    t=self.real(start),
                    stage=stage,
                    reply=reply.splitlines()[-1] if reply else None,
                    message_id=message_id,
                    listener=session.listen_address if session else "",
                    duration=(end - start) * self.time_scale,
                )
            )
        return tuple(attempts)

    def _fate(
        self,
        submission: Submission,
        recipient: str,
        delivered: list[MessageRecord],
        dsns: tuple[tuple[float, MessageRecord, DeliveryReport], ...],
        queued: list[QueuedMessage],
        notices: list[QueuedMessage],
        now_mono: float,
    ) -> RecipientFate:
        """Delivered (once or more), bounced (its DSN received, or its notice still queued at
        the sender), still queued, or lost."""
        copies = [
            m
            for m in delivered
            if m.message_id == submission.message_id
            and recipient.lower() in (r.lower() for r in m.rcpt_tos)
        ]
        injected = self.real(submission.mono)
        if copies:
            return RecipientFate(
                submission.message_id,
                recipient,
                Fate.DELIVERED if len(copies) == 1 else Fate.DUPLICATED,
                len(copies),
                settled_t=self.real(copies[0].mono),
                injected_t=injected,
            )
        for t, message, report in dsns:
            if message.dsn_for != submission.message_id:
                continue
            block = report.for_recipient(recipient)
            if block is not None:
                failed = block.action == "failed"
            else:
                failed = not report.recipients and _plain_notice_names(
                    message.content, recipient, submission.recipients
                )
            if failed:
                return RecipientFate(
                    submission.message_id,
                    recipient,
                    Fate.BOUNCED,
                    0,
                    settled_t=t,
                    injected_t=injected,
                )
        for entry in queued:
            if entry.message_id == submission.message_id and any(
                r.address.lower() == recipient.lower() for r in entry.recipients
            ):
                next_t = None
                if entry.next_attempt is not None:
                    due = self.real(_mono_of(entry.next_attempt.timestamp()))
                    next_t = max(self.real(now_mono), due)
                return RecipientFate(
                    submission.message_id,
                    recipient,
                    Fate.QUEUED,
                    0,
                    next_attempt_t=next_t,
                    injected_t=injected,
                )
        pending = [n for n in notices if _addressed_to(n, {submission.sender.lower()})]
        if pending:
            # Given up, its notice held at the sender: a relay's bounce goes to the smarthost
            # that failed the message (dma), and waits there in the queue. Bounced, at the
            # notice's arrival in the queue (a wall time).
            arrival = min((n.arrival for n in pending if n.arrival), default=None)
            settled = None
            if arrival is not None:
                settled = max(0.0, self.real(_mono_of(arrival.timestamp())))
            return RecipientFate(
                submission.message_id,
                recipient,
                Fate.BOUNCED,
                0,
                settled_t=settled,
                injected_t=injected,
            )
        return RecipientFate(submission.message_id, recipient, Fate.LOST, 0, injected_t=injected)

    # -- expectations, for tests --------------------------------------------------------------

    def wait_settled(self, timeout: float) -> CaseEvidence:
        """Wait until every recipient is delivered or bounced; fail showing what happened."""
        last: list[CaseEvidence] = []

        def settled() -> list[CaseEvidence]:
            evidence = self.read(time.monotonic())
            last[:] = [evidence]
            return [evidence] if evidence.settled() else []

        try:
            [evidence] = wait_until(
                settled,
                timeout=timeout,
                what="every recipient to be delivered or bounced",
                seen=lambda: last[0].describe() if last else "nothing yet",
                interval=0.25,
            )
        except WaitTimeout as error:
            raise LedgerExpectationError(str(error)) from None
        return evidence

    def expect(self, fate: Fate, *, recipient: str | None = None, count: int | None = None) -> None:
        """Assert recipients (all, or `recipient`) have `fate`; a failure lists what happened."""
        evidence = self.read(time.monotonic())
        chosen = [f for f in evidence.fates if recipient is None or f.recipient == recipient]
        matching = [f for f in chosen if f.fate is fate]
        wanted = len(chosen) if count is None else count
        if len(matching) != wanted or not chosen:
            raise LedgerExpectationError(
                f"expected {wanted} recipient(s) {fate.value}, found {len(matching)}: "
                f"{evidence.describe()}"
            )


def _plain_notice_names(content: bytes, recipient: str, recipients: Sequence[str]) -> bool:
    """Whether a bounce without a delivery-status report is about `recipient`: it is when it
    names no recipient of the message in angle brackets (it is about the whole message), or
    names this one (dma's notice: "There was an error delivering your mail to <c@...>",
    `X-Original-To: <c@...>`; the original's To: header it quotes has no brackets)."""
    text = content.decode("utf-8", errors="replace").lower()
    named = {r.lower() for r in recipients if f"<{r.lower()}>" in text}
    return not named or recipient.lower() in named


def _mono_of(wall: float) -> float:
    """A wall instant (a time the sender wrote) on the monotonic clock the ledger counts in.
    The two clocks' offset is read now, not taken from `now_mono`, which was read earlier:
    a queue listing takes a tenth of a wall second, 5 minutes at x2880."""
    return wall - (time.time() - time.monotonic())


def _addressed_to(message: QueuedMessage, addresses: set[str]) -> bool:
    return any(r.address.lower() in addresses for r in message.recipients)


def _carries_a_bounce(events: Sequence[EventRecord]) -> bool:
    """Whether the session's sender was null (`MAIL FROM:<>`): a DSN, not a message's attempt.
    Only a relay's bounces reach a scenario's receiver (every other sender routes them to the
    bounce receiver)."""
    return any(
        e.kind == "command"
        and e.text.upper().startswith("MAIL FROM:")
        and e.text[len("MAIL FROM:") :].strip().startswith("<>")
        for e in events
    )


def _decisive(events: Sequence[EventRecord]) -> tuple[str, str | None]:
    """The stage that decided a session and the receiver's reply there (None: it sent none).

    A delivered message decides at the end of data. Otherwise the first failure reply does: a
    pipelining sender that got 451 to RCPT has already sent DATA, and the 554 "no valid
    recipients" that follows is a consequence, not the fault. With no failure reply, the
    furthest stage before QUIT (a stall, a drop) and what was answered there.
    """
    staged = [e for e in events if e.stage in _STAGE_ORDER and e.stage != "quit"]
    replies = [e for e in staged if e.kind == "reply"]
    delivered = [e for e in replies if e.stage == "eod" and e.text[:1] == "2"]
    failed = [e for e in replies if e.text[:1] in ("4", "5")]
    if delivered or failed:
        decisive = (delivered or failed)[0]
        return decisive.stage or "greeting", decisive.text
    stage = max((e.stage or "" for e in staged), key=_STAGE_ORDER.index, default="greeting")
    at_stage = [
        e
        for e in staged
        if e.stage == stage
        and (e.kind == "reply" or (e.kind == "drop" and e.text != CLOSED_AFTER_REPLY))
    ]
    reply = at_stage[-1].text if at_stage and at_stage[-1].kind == "reply" else None
    return stage or "greeting", reply


def _tagged(message: MessageRecord, ids: set[str]) -> bool:
    return any(id_from_address(r) in ids for r in message.rcpt_tos)
