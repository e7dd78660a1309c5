"""What a reopening herd looked like, measured from the receiver's journal.

Pure functions over a finished run's evidence (the journal file, what was injected where, what
the senders still hold), so the arithmetic is testable without containers. Every time is in
**real MTA seconds relative to the reopening** (negative: during the outage): wall offsets
multiplied by the run's time scale k.

- connections per bin (each TCP session the receiver saw), message attempts per bin (MAIL
  commands of injected messages) and the offered load in messages (attempts plus sessions
  refused at the greeting, each of which was a sender trying to deliver one);
- accepted messages per bin (every acceptance of an injected message, duplicates included);
- concurrency: open sessions over time, overall, served (greeted with 220) and per sender
  container (by client IP);
- drain time: from the reopening to the first acceptance of the last injected message;
- duplicates (a message accepted more than once), still queued (in a sender's queue at the end),
  lost (neither accepted nor queued).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.receiver import Journal


@dataclass(frozen=True)
class Injected:
    """One injected message: its harness id, the sender that holds it, when (real s)."""

    message_id: str
    sender: str
    t: float


@dataclass(frozen=True)
class RunEvidence:
    """What one policy's run left behind, in the run's own clock (monotonic wall seconds)."""

    journal: Path
    time_scale: float
    outage: float  #: real seconds
    reopen_mono: float  #: wall monotonic time of the reopening
    end_mono: float  #: wall monotonic time the observation ended
    senders: Mapping[str, str]  #: client IP -> sender label
    mtas: Mapping[str, str]  #: sender label -> MTA name
    injected: Sequence[Injected]  #: t relative to the reopening, real seconds
    still_queued: frozenset[str]  #: harness ids the senders still held at the end


@dataclass(frozen=True)
class SessionSpan:
    """One session the receiver saw, in real seconds since the reopening."""

    sender: str  #: label, or the client IP when no sender container had it
    start: float
    end: float
    greeting: str  #: the first reply's code ("220", "421", "" when it never came)


@dataclass(frozen=True)
class SenderLoad:
    """One sender container's share of the herd after the reopening."""

    sender: str
    mta: str
    injected: int
    accepted: int
    connections: int
    peak_concurrency: int  #: most sessions it had open at once
    refused: int  #: sessions answered 421 at the greeting
    outage_connections: int = 0  #: sessions it opened during the outage (its retry cycles)
    first_accepted: float | None = None  #: its first acceptance at or after the reopening
    last_accepted: float | None = None  #: its last acceptance (real s since the reopening)


@dataclass(frozen=True)
class Measurement:
    """The measured herd of one reopening policy."""

    bin_seconds: float
    bin_starts: tuple[float, ...]  #: real seconds since the reopening
    connections: tuple[int, ...]  #: sessions opened per bin
    attempts: tuple[int, ...]  #: MAIL commands of injected messages per bin
    offered: tuple[int, ...]  #: attempts plus sessions refused at the greeting, per bin
    accepted: tuple[int, ...]  #: acceptances of injected messages per bin
    accepted_by_mta: dict[str, tuple[int, ...]]  #: the same, per MTA of the holding sender
    peak_concurrency: int  #: most sessions open at once after the reopening
    peak_served: int  #: most sessions greeted with 220 open at once after the reopening
    peak_connection_rate: float  #: most connections in one bin, per real second
    served_session_seconds: float | None  #: mean length of a session greeted with 220 (real s)
    refused_sessions: int  #: sessions answered 421 at the greeting after the reopening
    senders: tuple[SenderLoad, ...]
    injected: int
    injected_late: int  #: injected after the reopening (the injection fell behind schedule)
    delivered: int  #: distinct injected messages accepted
    duplicates: tuple[str, ...]  #: ids accepted more than once
    still_queued: int
    lost: int  #: neither accepted nor still queued
    accepted_before_reopen: int
    drain_time: float | None  #: real seconds to the last first-acceptance; None: not drained
    observed_until: float  #: real seconds since the reopening when observation ended
    sessions: tuple[SessionSpan, ...]


def measure(evidence: RunEvidence, *, bin_seconds: float) -> Measurement:
    """Read the journal and compute the herd's measures (see the module docstring)."""
    k = evidence.time_scale

    def real(mono: float) -> float:
        return (mono - evidence.reopen_mono) * k

    injected_ids = {item.message_id for item in evidence.injected}
    holder = {item.message_id: item.sender for item in evidence.injected}
    with Journal(evidence.journal) as journal:
        sessions = _sessions(journal, evidence, real)
        attempts = [
            real(event.mono)
            for event in journal.events(kind="command")
            if event.message_id in injected_ids and event.text.upper().startswith("MAIL")
        ]
        acceptances = [
            (message.message_id, real(message.mono))
            for message in journal.messages()
            if not message.is_dsn and message.message_id in injected_ids
        ]
    observed_until = real(evidence.end_mono)
    starts = _bin_starts(-evidence.outage, observed_until, bin_seconds)
    counts = Counter(message_id for message_id, _ in acceptances)
    first: dict[str, float] = {}
    for message_id, t in acceptances:
        if message_id is not None:
            first[message_id] = min(t, first.get(message_id, math.inf))
    delivered = set(first)
    queued = evidence.still_queued & injected_ids - delivered
    drained = delivered == injected_ids
    after = [s for s in sessions if s.end >= 0]
    refused = [s for s in sessions if s.greeting == "421"]
    lengths = [s.end - s.start for s in after if s.greeting == "220" and s.start >= 0]
    return Measurement(
        bin_seconds=bin_seconds,
        bin_starts=starts,
        connections=_histogram((s.start for s in sessions), starts, bin_seconds),
        attempts=_histogram(attempts, starts, bin_seconds),
        offered=_histogram([*attempts, *(s.start for s in refused)], starts, bin_seconds),
        accepted=_histogram((t for _, t in acceptances), starts, bin_seconds),
        accepted_by_mta={
            mta: _histogram(
                (t for m, t in acceptances if evidence.mtas.get(holder.get(m or "", "")) == mta),
                starts,
                bin_seconds,
            )
            for mta in dict.fromkeys(evidence.mtas.values())
        },
        peak_concurrency=peak_overlap(after, since=0.0),
        peak_served=peak_overlap([s for s in after if s.greeting == "220"], since=0.0),
        peak_connection_rate=max(
            _histogram((s.start for s in after if s.start >= 0), starts, bin_seconds), default=0
        )
        / bin_seconds,
        served_session_seconds=statistics.fmean(lengths) if lengths else None,
        refused_sessions=len(refused),
        senders=_sender_loads(evidence, sessions, acceptances),
        injected=len(injected_ids),
        injected_late=sum(1 for item in evidence.injected if item.t >= 0),
        delivered=len(delivered),
        duplicates=tuple(sorted(str(m) for m, n in counts.items() if n > 1)),
        still_queued=len(queued),
        lost=len(injected_ids - delivered - queued),
        accepted_before_reopen=sum(1 for _, t in acceptances if t < 0),
        drain_time=max(first.values()) if drained and first else None,
        observed_until=observed_until,
        sessions=tuple(sessions),
    )


def peak_overlap(spans: Iterable[SessionSpan], *, since: float = -math.inf) -> int:
    """Most spans open at one instant at or after `since`; an end and a start at the same
    instant do not overlap (the receiver counts a session closed before the next one opens)."""
    edges: list[tuple[float, int]] = []
    for span in spans:
        edges += [(max(span.start, since), 1), (span.end, -1)]
    peak = current = 0
    for _, step in sorted(edges):  # -1 sorts before +1 at the same instant
        current += step
        peak = max(peak, current)
    return peak


def _sessions(
    journal: Journal, evidence: RunEvidence, real: Callable[[float], float]
) -> list[SessionSpan]:
    ends: dict[int, float] = {}
    greetings: dict[int, str] = {}
    for event in journal.events():
        if event.kind == "disconnect":
            ends[event.session_id] = real(event.mono)
        elif event.kind == "reply" and event.session_id not in greetings:
            greetings[event.session_id] = event.text[:3]
    end_of_run = real(evidence.end_mono)
    return [
        SessionSpan(
            sender=evidence.senders.get(session.client, session.client),
            start=real(session.mono),
            end=ends.get(session.id, end_of_run),
            greeting=greetings.get(session.id, ""),
        )
        for session in journal.sessions()
    ]


def _sender_loads(
    evidence: RunEvidence,
    sessions: Sequence[SessionSpan],
    acceptances: Sequence[tuple[str | None, float]],
) -> tuple[SenderLoad, ...]:
    holder = {item.message_id: item.sender for item in evidence.injected}
    accepted = Counter(holder[m] for m, _ in acceptances if m is not None and m in holder)
    times: dict[str, list[float]] = {}
    for m, t in acceptances:
        if m is not None and m in holder and t >= 0:
            times.setdefault(holder[m], []).append(t)
    injected = Counter(item.sender for item in evidence.injected)
    loads = []
    for label, mta in evidence.mtas.items():
        mine = [s for s in sessions if s.sender == label and s.end >= 0]
        loads.append(
            SenderLoad(
                sender=label,
                mta=mta,
                injected=injected[label],
                accepted=accepted[label],
                connections=sum(1 for s in mine if s.start >= 0),
                peak_concurrency=peak_overlap(mine, since=0.0),
                refused=sum(1 for s in mine if s.start >= 0 and s.greeting == "421"),
                outage_connections=sum(1 for s in sessions if s.sender == label and s.start < 0),
                first_accepted=min(times.get(label, []), default=None),
                last_accepted=max(times.get(label, []), default=None),
            )
        )
    return tuple(loads)


def _bin_starts(first: float, last: float, width: float) -> tuple[float, ...]:
    """Bins of `width` aligned on the reopening (0 is a bin edge), covering [first, last]."""
    low = math.floor(first / width)
    high = max(low + 1, math.ceil(last / width))
    return tuple(n * width for n in range(low, high))


def _histogram(times: Iterable[float], starts: Sequence[float], width: float) -> tuple[int, ...]:
    counts = [0] * len(starts)
    if not starts:
        return ()
    for t in times:
        index = math.floor((t - starts[0]) / width)
        counts[min(max(index, 0), len(counts) - 1)] += 1
    return tuple(counts)
