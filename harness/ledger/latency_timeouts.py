"""Sessions a warped sender gave up because of the harness's wall-clock latency, not the plan.

On a clock warped by K, every millisecond of wall time between a reply of the receiver and the
sender's next move is K milliseconds to the sender: the receiver's own work, the loopback's
TCP (a delayed ACK holding back a Nagle-delayed segment: 40 ms, two minutes at x2880), the
engine's scheduling. A sender whose reply timeout is short can time out on that alone. Haraka
waits 30 s (`connect_timeout`, its sockets' idle timeout), which is 10 ms of wall time at x2880;
it then closes the session and sends the message again, and the receiver, which had stored it,
sees a duplicate the harness made.

The receiver journals a client's FIN (`eof`), a connection the client reset (`disconnect`
with the reset), and every decision a rule of the plan made. A half-close or a reset that came
at least the sender's reply timeout, on its clock, after the receiver's last reply in that
session, with no rule deciding anything from then to the receiver's next reply (a stall of
the plan is such a decision: a client that gives up on it is the fault working), is such a
give-up: the case's cell would be the harness's. The reset counts since a reference run's
Haraka `outage-72h-451` had a session end 58 of Haraka's seconds after the greeting with
neither a command nor a FIN, unflagged; the message it was to carry waited for its next try,
past the observation's end. A connection the receiver closed itself (the case's end) names no
reset and is not counted.

A sender that leaves after a positive greeting without a word (no EHLO) is counted however
soon it left: no MTA connects to a server that greets it only to go away, unless a timer made
it. Under full load (13 columns) Haraka did that on its 12th try of a message, about 84.6 h
into `outage-72h-451`, `-blackhole` and `-refused-2mx`, within a millisecond of wall time of
the greeting; run alone, the same cases delivered on that try. Node's loop reads its clock
once per turn, so a 30-second socket timer armed late in a long turn (the retry: queue file,
MX lookup, connect), 21 ms of wall time at x1440, has run out when the greeting is read.
"""

from __future__ import annotations

from pathlib import Path

from harness.receiver.journal import HALF_CLOSED, EventRecord, Journal

#: How a client's reset reads in a `disconnect` event (asyncio's ConnectionResetError).
RESET = "reset by peer"
#: A give-up counts when the silence reached this share of the timeout on the sender's clock:
#: the wall times are the receiver's, read a little after the sender's.
TIMEOUT_SHARE = 0.9


def latency_timeouts(
    journal_path: Path, *, time_scale: float, reply_timeout: float
) -> tuple[str, ...]:
    """Why each such session is the harness's (empty: none), in the journal at `journal_path`
    of a case whose sender ran on a clock warped by `time_scale` and times out after
    `reply_timeout` seconds of its own without a reply."""
    found: list[str] = []
    with Journal(journal_path) as journal:
        events = journal.events()
    sessions: dict[int, list[EventRecord]] = {}
    for event in events:
        sessions.setdefault(event.session_id, []).append(event)
    for session_id, session in sessions.items():
        silent = _left_after_greeting(session)
        if silent is not None:
            waited = silent * time_scale
            found.append(
                f"session {session_id}: the sender left {waited:.0f}s (its clock) after a "
                f"positive greeting without a command, {silent * 1000:.1f} ms of wall time, "
                "with no rule of the plan acting: a timer of the warped sender, not the plan"
            )
            continue
        for index, event in enumerate(session):
            if not _client_ended(event):
                continue
            replies_before = [i for i in range(index) if session[i].kind == "reply"]
            if not replies_before:
                continue
            last = session[replies_before[-1]]
            if _plan_acted(session, after=replies_before[-1], eof=index):
                continue
            waited = (event.mono - last.mono) * time_scale
            if waited >= TIMEOUT_SHARE * reply_timeout:
                found.append(
                    f"session {session_id}: the sender {_how(event)} it {waited:.0f}s (its clock) "
                    f"after the reply {last.text[:40]!r}, {waited / time_scale * 1000:.1f} ms "
                    f"of wall time with no rule of the plan acting: its {reply_timeout:g}s "
                    "reply timeout ran out on the harness's latency"
                )
    return tuple(found)


def _left_after_greeting(session: list[EventRecord]) -> float | None:
    """Wall seconds from a positive greeting to the client's end (FIN or reset), when the
    client sent no command at all and no rule acted; None for any other session."""
    if any(event.kind == "command" for event in session):
        return None
    if any(event.kind == "decision" and event.rule is not None for event in session):
        return None
    replies = [event for event in session if event.kind == "reply"]
    ends = [event for event in session if _client_ended(event)]
    if not replies or not ends or not replies[0].text.startswith("2"):
        return None
    return max(0.0, ends[0].mono - replies[0].mono)


def _client_ended(event: EventRecord) -> bool:
    """The client closed its side (FIN) or reset the connection."""
    if event.kind == "eof":
        return event.text == HALF_CLOSED
    return event.kind == "disconnect" and RESET in event.text


def _how(event: EventRecord) -> str:
    return "closed" if event.kind == "eof" else "reset"


def _plan_acted(session: list[EventRecord], *, after: int, eof: int) -> bool:
    """Whether a rule decided anything between the reply at index `after` and the first reply
    after the FIN at index `eof` (a FIN that came with the command is read before the command
    is decided)."""
    for index in range(after + 1, len(session)):
        event = session[index]
        if event.kind == "decision" and event.rule is not None:
            return True
        if event.kind == "reply" and index > eof:
            return False
    return False
