"""How much mail an outage of D hours loses, by sender class and failure mode.

For a receiver that is down from 0 to D, mail keeps arriving at a constant rate; every message
is first attempted when it arrives. What becomes of it depends on how the receiver fails and on
the sender's retry schedule:

- **5xx** (the January 2023 Libero answer): a permanent reply, bounced at once. A measured
  class takes its share bounced at once from its matrix cell `outage-72h-550` when one is
  given (a sender that queued on 5xx would show it); the rest follows its 4xx schedule.
- **4xx, refused, blackhole**: the sender queues and retries. A message is *delivered late* by
  its first attempt after reopening, if one falls before its give-up, else it is *lost*: bounced
  back to its sender when its queue lifetime ran out. The times come from the herd model
  (`predict`, unlimited capacity, no new mail after reopening), so the loss curves and the herd
  share one model and one set of classes: destination-anchored senders (Exim) wait for their
  host's next retry, queue runs spread a retry over the scan interval. A 4xx outage answers
  451 to RCPT, as the matrix's cells do, and there a class's `rcpt_anchor` applies (Exim keys
  a RCPT deferral on the address and sender: each message on its own schedule).

A class measured for the failure mode (`schedule.json` of `mailstorm schedule --variant ...`)
is used for it; otherwise its 4xx schedule stands in, and the curve's source says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from harness.errors import HerdError
from harness.herd.model.prediction import HerdScenario, predict
from harness.herd.model.sender_classes import DAY, Evidence, SenderClass

#: How the receiver fails during the outage.
MODES = ("4xx", "refused", "blackhole", "5xx")
QUEUEING_MODES = MODES[:3]
#: The outage of January 2023 (Libero/Virgilio, 23 to about 27 January): about four days.
JANUARY_2023 = 4 * DAY
#: Outage lengths of the bundled curves: every 3 hours up to a day, then every 6 up to 7 days.
DEFAULT_OUTAGES = (
    3600.0,
    2 * 3600.0,
    *(h * 3600.0 for h in range(3, 24, 3)),
    *(h * 3600.0 for h in range(24, 169, 6)),
)
#: Resolution (real seconds) of the delays after reopening.
STEP = 300.0
MIX = "mix"


@dataclass(frozen=True)
class LossPoint:
    """What became of the mail sent during an outage of `outage` seconds, as fractions of it
    (they sum to 1), and the delay after reopening of the part delivered late."""

    outage: float
    lost: float  #: queued, then bounced when the sender's queue lifetime ran out
    late: float  #: delivered after reopening
    at_once: float  #: bounced at once (a permanent reply)
    delay_median: float | None  #: real seconds after reopening; None when nothing was late
    delay_p90: float | None
    delay_max: float | None
    #: the late mail's delay distribution: (delay after reopening, fraction of all the mail),
    #: one entry per STEP-long step that delivered some
    delays: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class LossCurve:
    """One class (or the mix) under one failure mode, over the outage lengths."""

    sender: str
    mode: str
    evidence: Evidence | str  #: a class's evidence; the mix names the weakest of its classes
    source: str
    share: float  #: the class's share of the mix (1.0 for the mix itself)
    points: tuple[LossPoint, ...]

    def at(self, outage: float) -> LossPoint:
        """The point of this outage length (one of the curve's)."""
        for point in self.points:
            if math.isclose(point.outage, outage):
                return point
        raise HerdError(f"{self.sender}/{self.mode}: no point at an outage of {outage:g} s")


@dataclass(frozen=True)
class NoQueueSender:
    """A sender with no queue (a relay like msmtp, an application speaking SMTP itself): every
    failure is final, so all its mail during an outage is bounced at once, whatever the mode.
    `source`: the evidence (its matrix cells)."""

    name: str
    share: float
    source: str
    evidence: Evidence = "measured"


@dataclass(frozen=True)
class LossInput:
    """The classes, per failure mode: `schedules[mode]` replaces a class by the one measured for
    that mode (by name); `at_once_5xx[name]` is the share a measured class bounced at once on
    5xx (from its matrix cell, with `at_once_evidence[name]` saying which). The shares of the
    classes and the no-queue senders make the mix and sum to 1."""

    classes: tuple[SenderClass, ...]
    schedules: Mapping[str, tuple[SenderClass, ...]] = field(default_factory=dict)
    at_once_5xx: Mapping[str, float] = field(default_factory=dict)
    at_once_evidence: Mapping[str, str] = field(default_factory=dict)
    no_queue: tuple[NoQueueSender, ...] = ()


def loss_curves(
    loss_input: LossInput, outages: Sequence[float] = DEFAULT_OUTAGES
) -> tuple[LossCurve, ...]:
    """Every class's curve and the mix's, for every failure mode (see the module docstring).

    The classes' shares make the mix; they must sum to 1."""
    if not outages or any(not 0 < d < math.inf for d in outages):
        raise HerdError("outage lengths must be > 0 seconds")
    classes = loss_input.classes
    shares = sum(c.share for c in classes) + sum(n.share for n in loss_input.no_queue)
    if abs(shares - 1) > 1e-6:
        raise HerdError(f"the shares of the sender mix must sum to 1, not {shares:g}")
    if not classes:
        raise HerdError("no sender class with a queue: nothing to model")
    curves: list[LossCurve] = []
    queued: dict[str, dict[str, list[_Outcome]]] = {}
    for mode in QUEUEING_MODES:
        senders = _for_mode(classes, loss_input.schedules.get(mode, ()))
        if mode == "4xx":  # 451 to RCPT, as the matrix's outage cells answer
            senders = tuple(c.deferred_at_rcpt() for c in senders)
        queued[mode] = {c.name: [] for c in senders}
        for outage in outages:
            for name, outcome in _queueing(senders, outage).items():
                queued[mode][name].append(outcome)
        for sender in senders:
            source = sender.source
            if mode != "4xx" and not _measured_for(loss_input, mode, sender.name):
                source += f" [{mode}: its 4xx schedule stands in, not measured for {mode}]"
            curves.append(
                _curve(sender, mode, source, outages, queued[mode][sender.name], at_once=0.0)
            )
    for sender in classes:
        at_once = loss_input.at_once_5xx.get(sender.name, 1.0)
        evidence = loss_input.at_once_evidence.get(
            sender.name, "a 5xx reply is permanent (RFC 5321 4.2.1): bounced at once"
        )
        curves.append(
            _curve(
                sender,
                "5xx",
                f"{sender.source} [5xx: {evidence}]",
                outages,
                queued["4xx"][sender.name],
                at_once=at_once,
            )
        )
    for no_queue in loss_input.no_queue:
        points = tuple(_point(d, lost=0.0, late=0.0, at_once=1.0, delays=()) for d in outages)
        curves += [
            LossCurve(no_queue.name, m, no_queue.evidence, no_queue.source, no_queue.share, points)
            for m in MODES
        ]
    for mode in MODES:
        curves.append(_mix([c for c in curves if c.mode == mode], mode, outages))
    return tuple(curves)


@dataclass(frozen=True)
class _Outcome:
    """One class at one outage: fractions of its mail, and its late mail's delays."""

    lost: float
    late: float
    delays: tuple[tuple[float, float], ...]  #: (delay after reopening, fraction of its mail)


def _queueing(senders: Sequence[SenderClass], outage: float) -> dict[str, _Outcome]:
    """The herd model at unlimited capacity, only the outage's mail: per class, what was
    bounced (lost) and when the rest was delivered. At unlimited capacity the classes do not
    meet, so each carries an equal share here whatever its share of the mix."""
    equal = tuple(replace(s, share=1.0 / len(senders)) for s in senders)
    prediction = predict(
        HerdScenario(
            outage=outage,
            rate=1.0,
            senders=equal,
            capacity=None,
            step=STEP,
            mail_after_reopening=False,
        )
    )
    outcomes = {}
    for sender in equal:
        sent = outage * sender.share
        lost = (
            prediction.bounced_during_outage[sender.name]
            + prediction.bounced_after_reopening[sender.name]
        ) / sent
        delays = tuple(
            (point.t + STEP / 2, point.accepted[sender.name] * STEP / sent)
            for point in prediction.steps
            if point.accepted[sender.name] > 0
        )
        late = sum(fraction for _, fraction in delays)
        outcomes[sender.name] = _Outcome(lost, late, delays)
    return outcomes


def _curve(
    sender: SenderClass,
    mode: str,
    source: str,
    outages: Sequence[float],
    outcomes: Sequence[_Outcome],
    at_once: float,
) -> LossCurve:
    """A class's curve; `at_once` of its mail bounced at once, the rest as in `outcomes`."""
    rest = 1.0 - at_once
    points = tuple(
        _point(
            outage,
            lost=rest * o.lost,
            late=rest * o.late,
            at_once=at_once,
            delays=[(d, rest * f) for d, f in o.delays],
        )
        for outage, o in zip(outages, outcomes, strict=True)
    )
    return LossCurve(sender.name, mode, sender.evidence, source, sender.share, points)


def _mix(curves: Sequence[LossCurve], mode: str, outages: Sequence[float]) -> LossCurve:
    """The shares' weighted sum of the classes' curves; the delays of all their late mail."""
    points = []
    for i, outage in enumerate(outages):
        delays: list[tuple[float, float]] = []
        lost = late = at_once = 0.0
        for curve in curves:
            p = curve.points[i]
            lost += curve.share * p.lost
            late += curve.share * p.late
            at_once += curve.share * p.at_once
            delays += [(d, curve.share * f) for d, f in p.delays]
        points.append(_point(outage, lost=lost, late=late, at_once=at_once, delays=delays))
    weakest = max(
        (c.evidence for c in curves if c.share > 0),
        key=lambda e: ("measured", "documented", "assumption", "weak").index(e),
        default="measured",
    )
    names = ", ".join(f"{c.sender} {c.share:.0%}" for c in curves if c.share > 0)
    return LossCurve(MIX, mode, weakest, f"the mix: {names}", 1.0, tuple(points))


def _point(
    outage: float,
    *,
    lost: float,
    late: float,
    at_once: float,
    delays: Sequence[tuple[float, float]],
) -> LossPoint:
    merged: dict[float, float] = {}
    for d, f in delays:
        if f > 0:
            merged[d] = merged.get(d, 0.0) + f
    ordered = sorted(merged.items())
    return LossPoint(
        outage=outage,
        lost=lost,
        late=late,
        at_once=at_once,
        delay_median=_quantile(ordered, 0.5),
        delay_p90=_quantile(ordered, 0.9),
        delay_max=ordered[-1][0] if ordered else None,
        delays=tuple(ordered),
    )


def _quantile(ordered: Sequence[tuple[float, float]], q: float) -> float | None:
    total = sum(f for _, f in ordered)
    if total <= 0:
        return None
    running = 0.0
    for delay, fraction in ordered:
        running += fraction
        if running >= q * total - 1e-12:
            return delay
    return ordered[-1][0]


def _for_mode(
    classes: Sequence[SenderClass], measured: Sequence[SenderClass]
) -> tuple[SenderClass, ...]:
    by_name = {m.name: m for m in measured}
    return tuple(
        replace(by_name[c.name], share=c.share) if c.name in by_name else c for c in classes
    )


def _measured_for(loss_input: LossInput, mode: str, name: str) -> bool:
    return any(c.name == name for c in loss_input.schedules.get(mode, ()))
