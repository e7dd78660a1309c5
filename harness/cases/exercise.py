"""Proof of exercise: did the fault a case names actually fire, as often as the scenario needs?

A cell is evidence about an MTA only if the MTA met the fault. A rule that never matched (the
sessions never overlapped, the stage was never reached, the outage window closed before the
message came) leaves the MTA talking to the default accepting server, and a check that then
passes says nothing about the fault. So every case counts, from the receiver's journal, how often
each rule decided something, and a refusal window (nothing listening) counts the refused
connections in the MTA's own log, because the receiver cannot see those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.ledger import CaseEvidence, held_by_refusals, refused_attempts
from harness.receiver import Stage
from harness.results import FaultExercise
from harness.scenarios import Scenario, placeholder_addresses, scenario_zone
from harness.targets import LogRecord, Submission

#: The fault a refusal window stands for, in the evidence.
REFUSAL = "connection refused (nothing listening)"


def rule_exercise(
    scenario: Scenario, firings: Mapping[int, int], held: Mapping[int, int] | None = None
) -> tuple[FaultExercise, ...]:
    """Each rule of the scenario's plan: how often it fired against its `min_fired`, and how
    many messages it held from the receiver (`held_behind_stalls`)."""
    return tuple(
        FaultExercise(
            fault=rule.describe(),
            needed=rule.min_fired,
            fired=firings.get(rule.index, 0),
            held=(held or {}).get(rule.index, 0),
        )
        for rule in scenario.plan.rules
    )


def held_behind_stalls(
    scenario: Scenario, evidence: CaseEvidence, injected: Sequence[float]
) -> dict[int, int]:
    """Per rule that stalls for ever: the messages it kept from the receiver without firing.

    A sender that delivers one message at a time (nullmailer) waits on a session such a rule
    stalls, and the messages sent meanwhile never reach the receiver: they met the outage
    through the sender being held by it, as Exim's later messages meet a refusal through its
    retry record (`refusal_exercise`). Counted, from the receiver's sessions: the messages
    injected (`injected`, real seconds) after the start of a session that the rule's stage
    left without a reply and that was still open when observation ended, less every session
    that started after it (conservative: a message that had a session of its own is never
    counted, only possibly one that had none).
    """
    held: dict[int, int] = {}
    for rule in scenario.plan.rules:
        if not rule.action.stalls_forever:
            continue
        stages = {stage.value for stage in rule.match.stages}
        open_at_end = [
            a.t
            for a in evidence.attempts
            if a.reply is None and a.stage in stages and evidence.still_open(a)
        ]
        if not open_at_end:
            continue
        since = min(open_at_end)
        later_sessions = sum(1 for a in evidence.attempts if a.t > since)
        waiting = sum(1 for t in injected if t > since)
        if waiting > later_sessions:
            held[rule.index] = waiting - later_sessions
    return held


def refusal_exercise(
    scenario: Scenario,
    logs: Sequence[LogRecord],
    submissions: Sequence[Submission],
    *,
    time_scale: float,
    stamp_resolution: float = 1.0,
) -> FaultExercise:
    """The refusal window: how many of the case's messages met at least one refused connection,
    or were deferred unseen because the sender held the host as down after refusals.

    Every message must: a message first tried after the window met an open receiver, not the
    outage. Exim, having met refusals for one message, defers later ones with `retry time not
    reached` until its host retry record is due: those met the outage through the sender's own
    memory of it (a second full run had the third message of `outage-72h-refused` never
    connect during the window, and the case was an error).
    """
    met = sum(
        1
        for submission in submissions
        if refused_attempts(
            logs,
            sender=submission.sender,
            message_id=submission.message_id,
            start_wall=submission.wall,
            time_scale=time_scale,
            stamp_resolution=stamp_resolution,
        )
        or held_by_refusals(logs, sender=submission.sender)
    )
    return FaultExercise(fault=REFUSAL, needed=scenario.messages, fired=met)


def mx_exercise(scenario: Scenario, evidence: CaseEvidence) -> tuple[FaultExercise, ...]:
    """A DNS/MX case's own faults: each refusing MX host must have refused at least one
    connection (read off the wire), and each zone fault must have decided at least one answer.

    A secondary that the sender never reached, or a SERVFAIL window no lookup fell in, would
    leave a cell about a fault the MTA never met. One exception: a refusing host the sender
    never connected to at all while it did connect to another MX host. That is the sender's
    choice (the no-queue application tries only the most preferred MX), measured, and the
    cell's checks (`mx-hosts-tried`) judge it; the host's refusal is then needed 0 times, and
    the exercise says why.
    """
    tried = sorted({c.host for c in evidence.connections})
    refusing = []
    for host in scenario.mx:
        if host.refuse_until is None:
            continue
        fired = sum(
            1 for c in evidence.connections if c.host == host.label and c.outcome == "refused"
        )
        fault = f"MX host {host.label} refuses connections"
        needed = 1
        if tried and host.label not in tried:
            fault += f" (never tried: the sender connected only to {', '.join(tried)})"
            needed = 0
        refusing.append(FaultExercise(fault=fault, needed=needed, fired=fired))
    answered = [lookup.fault for lookup in evidence.lookups if lookup.fault]
    dns = (
        [
            FaultExercise(
                fault=f"DNS {fault.describe()}",
                needed=1,
                fired=answered.count(fault.describe()),
            )
            for fault in scenario_zone(
                scenario.domain,
                scenario.mx,
                scenario.zone,
                placeholder_addresses(scenario.mx),
                source=scenario.source,
            ).faults
        ]
        if scenario.uses_dns
        else []
    )
    return (*refusing, *dns)


def not_exercised(exercise: Sequence[FaultExercise]) -> str | None:
    """The error a case gets when a fault fired fewer times than needed; None when all did."""
    short = [e for e in exercise if not e.exercised]
    if not short:
        return None
    return "fault not exercised: " + "; ".join(
        f"{e.fault} fired {e.fired} time(s)"
        + (f" and held {e.held} message(s)" if e.held else "")
        + f", the scenario needs {e.needed}"
        for e in short
    )


def unused_extension(scenario: Scenario, evidence: CaseEvidence) -> str | None:
    """Why the case's faults could not apply, when they are all on BDAT chunks and the sender
    never sent BDAT (it delivered with DATA: it does not use CHUNKING); else None."""
    stages = {stage for rule in scenario.plan.rules for stage in rule.match.stages}
    if stages != {Stage.BDAT} or "BDAT" in evidence.commands:
        return None
    used = "DATA" if "DATA" in evidence.commands else "no message command"
    return (
        f"the sender never sent BDAT (it used {used}): it does not use CHUNKING, so a fault "
        "on its chunks cannot apply"
    )
