"""The herd model's prediction for a reopen experiment, to put beside what was measured.

The model (`harness.herd.model.prediction`) is asked about the experiment's own situation: the
same outage,
the same sender mix (Postfix and Exim with their documented defaults, one host per container,
shares by the messages injected into them), the same injected mail (a steady rate over the
outage), and the same capacity: unlimited for `open`; for `admission`, C sessions, which the
model turns into a rate with the mean length of a served session as measured in the run.

Two adaptations, both stated in every report:

- The experiment injects mail only during the outage; the model's normal inbound mail goes on
  after reopening. The prediction is run with the post-reopening new mail switched off
  (`HerdScenario.mail_after_reopening`), and checked for conservation: what it
  accepts and bounces after reopening must equal the backlog at reopening.
- Sessions are not time-compressed: a 50 ms wall session at k = 60 lasts 3 real seconds in
  the scaled clock, so a session-limited capacity looks k times smaller than it would be with
  real senders. The model is given the measured (scaled) session time, so both describe the
  same compressed world.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from harness.errors import HerdError
from harness.herd.model import prediction as herd_model
from harness.herd.model.sender_classes import BUILTIN_CLASSES, SenderClass
from harness.herd.reopen.plan import Policy
from harness.herd.reopen.senders import SenderMix

#: Relative tolerance of the conservation check (the model is a fluid: sums of floats).
CONSERVATION_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ModelCurve:
    """The model's prediction for one policy, on the measurement's bins after reopening."""

    policy: Policy
    bin_starts: tuple[float, ...]  #: real seconds since reopening
    offered: tuple[float, ...]  #: messages per real second
    accepted: tuple[float, ...]  #: messages per real second
    offered_by_class: dict[str, tuple[float, ...]]  #: messages per real second, per MTA class
    backlog_at_reopening: float  #: messages
    peak_offered_rate: float
    peak_time: float
    drain_time: float | None
    capacity: float | None  #: messages per real second; None: unlimited
    session_seconds: float | None  #: the served session's mean length used for the capacity
    notes: tuple[str, ...]  #: how the model was adapted, and any check that failed
    assumptions: tuple[str, ...]  #: the model's own list


def sender_classes(
    mix: SenderMix, measured: Sequence[SenderClass] = (), *, deferred_at_rcpt: bool = False
) -> tuple[SenderClass, ...]:
    """Each MTA's class in the mix: the `measured` one of its name (a schedule.json of
    `mailstorm schedule` or `matrix`) where there is one, else its documented default; one
    host per container, shares by count. `deferred_at_rcpt`: the outage answers 4xx to RCPT,
    so each class's `rcpt_anchor` applies (Exim: per address, not per host)."""
    by_name = {c.name: c for c in measured}
    classes = []
    for name, count in mix.counts:
        if name in by_name:
            base = replace(by_name[name], share=count / mix.total)
        elif name in BUILTIN_CLASSES:
            base = BUILTIN_CLASSES[name](count / mix.total)
        else:
            raise HerdError(
                f"the herd model has no documented class for {name!r}: give a schedule "
                f"measured for it (--schedules reports/reference/schedule.json)"
            )
        if deferred_at_rcpt:
            base = base.deferred_at_rcpt()
        classes.append(replace(base, hosts=count))
    return tuple(classes)


def classes_note(classes: Sequence[SenderClass]) -> str:
    """Where the model's classes came from, for the report."""
    parts = [
        f"{c.name} {c.evidence}, retry state per {c.anchor}"
        + (f" ({c.source})" if c.evidence == "measured" else "")
        for c in classes
    ]
    return "sender classes: " + "; ".join(parts) + "; hosts = containers"


def predict_reopen(
    *,
    classes: Sequence[SenderClass],
    outage: float,
    messages: int,
    policy: Policy,
    capacity_sessions: int,
    session_seconds: float | None,
    bin_seconds: float,
) -> ModelCurve:
    """The model's curve for `messages` injected evenly over `outage` into the senders of
    `classes` (`sender_classes` of the run's mix), reopened by `policy` (see the module
    docstring for the capacity)."""
    notes = [
        "model run without new mail after reopening (the experiment injects only during the "
        "outage)",
        classes_note(classes),
    ]
    max_sessions: int | None = None
    session = 1.0
    if policy is Policy.ADMISSION:
        max_sessions = capacity_sessions
        if session_seconds and session_seconds > 0:
            session = session_seconds
            notes.append(
                f"capacity {capacity_sessions} sessions / {session_seconds:.3g} s mean served "
                "session (measured, scaled clock) = "
                f"{capacity_sessions / session_seconds:.3g} msgs/s"
            )
        else:
            notes.append("no served session measured: capacity taken as C sessions of 1 s")
    scenario = herd_model.HerdScenario(
        outage=outage,
        rate=messages / outage,
        senders=tuple(classes),
        max_sessions=max_sessions,
        session_seconds=session,
        step=bin_seconds,
        mail_after_reopening=False,
    )
    prediction = herd_model.predict(scenario)
    step = scenario.step
    after = sum(sum(p.accepted.values()) * step for p in prediction.steps)
    after += sum(prediction.bounced_after_reopening.values())
    backlog = sum(prediction.backlog_at_reopening.values())
    if abs(after - backlog) > CONSERVATION_TOLERANCE * max(1.0, backlog):
        notes.append(
            f"CHECK FAILED: the model accepted and bounced {after:.3g} messages after reopening "
            f"for a backlog of {backlog:.3g} (new mail not switched off?)"
        )
    return ModelCurve(
        policy=policy,
        bin_starts=tuple(p.t for p in prediction.steps),
        offered=tuple(sum(p.offered.values()) for p in prediction.steps),
        accepted=tuple(sum(p.accepted.values()) for p in prediction.steps),
        offered_by_class={
            name: tuple(p.offered.get(name, 0.0) for p in prediction.steps)
            for name in prediction.classes
        },
        backlog_at_reopening=backlog,
        peak_offered_rate=prediction.peak_offered_rate,
        peak_time=prediction.peak_time,
        drain_time=prediction.drain_time,
        capacity=None if prediction.capacity == float("inf") else prediction.capacity,
        session_seconds=session if max_sessions is not None else None,
        notes=tuple(notes),
        assumptions=prediction.assumptions,
    )
