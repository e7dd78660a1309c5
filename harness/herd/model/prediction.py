"""The reopening herd as a deterministic fluid model: what arrives when a receiver reopens.

Mail is a fluid of cohorts, not random messages, so the same input always gives the same curve
and closed-form cases can be checked exactly. During the outage (time 0 to D) every attempt
fails: a cohort of mail that arrived at `a` is bounced at `a + give_up` if that is before D,
and otherwise waits in its sender's queue for its next attempt at or after D (its own schedule,
or its destination's for senders that keep retry state per host). After reopening, time runs
in steps: each step's offered load is the mail whose attempt falls in it plus the normal
inbound mail; the receiver accepts up to its capacity and answers 4xx (421) to the rest in
proportion, and each refused part comes back one retry interval later: the echoes.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field

from harness.errors import HerdError
from harness.herd.model.sender_classes import SenderClass

#: The fraction of the reopening backlog that counts as drained (see `HerdPrediction.drain_time`).
DRAIN_FRACTION = 0.01

_Key = tuple[int, int]  # (attempt index in the class's schedule, arrival bucket)


@dataclass(frozen=True)
class HerdScenario:
    """The model's input. Rates are messages per second, times real seconds.

    `capacity` is what the receiver accepts per second (None: unlimited); `max_sessions` with
    `session_seconds` (the mean SMTP session, one message each) caps it too. `step` is the time
    resolution after reopening; `age_resolution` the resolution of message ages for the give-up
    after reopening; `horizon` how long after reopening to follow the herd (default: the longest
    give-up plus a day).
    """

    outage: float
    rate: float
    senders: tuple[SenderClass, ...]
    capacity: float | None = None
    max_sessions: int | None = None
    session_seconds: float = 1.0
    step: float = 60.0
    age_resolution: float = 3600.0
    horizon: float | None = None
    #: new mail keeps arriving at `rate` after reopening (False: only the backlog, as in a
    #: reopen experiment that injects mail during the outage only)
    mail_after_reopening: bool = True

    def __post_init__(self) -> None:
        if not self.outage >= 0 or not math.isfinite(self.outage):
            raise HerdError(f"outage must be >= 0 seconds, not {self.outage!r}")
        if not self.rate >= 0 or not math.isfinite(self.rate):
            raise HerdError(f"rate must be >= 0 messages/s, not {self.rate!r}")
        if not self.senders:
            raise HerdError("the sender mix is empty")
        if abs(sum(s.share for s in self.senders) - 1) > 1e-6:
            raise HerdError("the shares of the sender mix must sum to 1")
        if len({s.name for s in self.senders}) != len(self.senders):
            raise HerdError("sender class names must be unique")
        if self.capacity is not None and not self.capacity > 0:
            raise HerdError(f"capacity must be > 0 messages/s, not {self.capacity!r}")
        if self.max_sessions is not None and self.max_sessions < 1:
            raise HerdError("max_sessions must be >= 1")
        if not self.session_seconds > 0:
            raise HerdError("session_seconds must be > 0")
        if not self.step > 0 or not self.age_resolution > 0:
            raise HerdError("step and age_resolution must be > 0 seconds")
        if self.horizon is not None and not self.horizon > 0:
            raise HerdError("horizon must be > 0 seconds")

    @property
    def effective_capacity(self) -> float:
        """Accepted messages per second: the tighter of the rate and session limits (inf: none)."""
        limits = [math.inf if self.capacity is None else self.capacity]
        if self.max_sessions is not None:
            limits.append(self.max_sessions / self.session_seconds)
        return min(limits)


@dataclass(frozen=True)
class OutagePoint:
    """Mail queued for us (by class) and bounced so far, `t` seconds into the outage."""

    t: float
    backlog: dict[str, float]
    bounced: dict[str, float]


@dataclass(frozen=True)
class StepPoint:
    """One step after reopening, starting `t` seconds after it; rates in messages/s, backlog in
    messages still queued by senders at the end of the step, by class."""

    t: float
    offered: dict[str, float]
    accepted: dict[str, float]
    deferred: dict[str, float]
    backlog: dict[str, float]


@dataclass(frozen=True)
class ArrivalPoint:
    """The offered load `t` seconds after reopening, in messages/s by class: what a load shape
    replays (piecewise constant over one step from `t`)."""

    t: float
    rates: dict[str, float]

    @property
    def total(self) -> float:
        """All classes together, messages/s."""
        return sum(self.rates.values())


@dataclass(frozen=True)
class HerdPrediction:
    """What the model predicts; totals in messages, rates in messages/s, times in seconds.

    `drain_time` is the time after reopening from which the mail still queued by senders stays
    below DRAIN_FRACTION of the backlog at reopening (None: it never does within the horizon,
    e.g. a capacity below the normal rate).
    """

    scenario: HerdScenario
    capacity: float
    backlog_at_reopening: dict[str, float]
    bounced_during_outage: dict[str, float]
    warned_during_outage: dict[str, float]
    bounced_after_reopening: dict[str, float]
    outage_curve: tuple[OutagePoint, ...]
    steps: tuple[StepPoint, ...]
    peak_offered_rate: float
    peak_time: float
    drain_time: float | None
    assumptions: tuple[str, ...]
    classes: tuple[str, ...] = field(default=())

    @property
    def arrival_curve(self) -> tuple[ArrivalPoint, ...]:
        """Offered load after reopening, one point per step (see ArrivalPoint)."""
        return tuple(ArrivalPoint(point.t, dict(point.offered)) for point in self.steps)


def predict(scenario: HerdScenario) -> HerdPrediction:
    """Run the model (see the module docstring and docs/herd-model.md)."""
    return _Simulation(scenario).run()


class _Simulation:
    """One run of the model: the outage in closed form, then step by step after reopening."""

    def __init__(self, scenario: HerdScenario) -> None:
        self.scenario = scenario
        self.capacity = scenario.effective_capacity
        self.step = scenario.step
        self.reopen = scenario.outage
        longest = max(s.give_up + s.scan_interval for s in scenario.senders)
        self.horizon = scenario.horizon if scenario.horizon is not None else longest + 86400.0
        self.last_step = max(1, math.ceil(self.horizon / self.step))
        self.offsets = {s.name: s.attempt_offsets() for s in scenario.senders}
        self.host_offsets = {
            s.name: s.attempt_offsets(until=self.reopen + self.horizon + s.give_up)
            for s in scenario.senders
            if s.anchor == "destination"
        }
        # due[class][step index after reopening][(attempt index, arrival bucket)] = messages
        self.due: dict[str, dict[int, dict[_Key, float]]] = {
            s.name: defaultdict(lambda: defaultdict(float)) for s in scenario.senders
        }
        self.held = dict.fromkeys(self.offsets, 0.0)
        self.bounced_after = dict.fromkeys(self.offsets, 0.0)

    def run(self) -> HerdPrediction:
        names = tuple(s.name for s in self.scenario.senders)
        backlog, bounced, warned = self._outage()
        initial = sum(backlog.values())
        steps: list[StepPoint] = []
        release = self._last_release()
        for j in range(self.last_step):
            steps.append(self._step(j))
            still = sum(self.held.values())
            if still <= 1e-9 * max(1.0, initial) and j * self.step >= release:
                break
        peak = max(steps, key=lambda p: sum(p.offered.values()))
        return HerdPrediction(
            scenario=self.scenario,
            capacity=self.capacity,
            backlog_at_reopening=backlog,
            bounced_during_outage=bounced,
            warned_during_outage=warned,
            bounced_after_reopening=dict(self.bounced_after),
            outage_curve=self._outage_curve(),
            steps=tuple(steps),
            peak_offered_rate=sum(peak.offered.values()),
            peak_time=peak.t,
            drain_time=self._drain_time(steps, initial),
            assumptions=self._assumptions(),
            classes=names,
        )

    # -- the outage, in closed form -------------------------------------------------------

    def _outage(self) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        backlog: dict[str, float] = {}
        bounced: dict[str, float] = {}
        warned: dict[str, float] = {}
        for sender in self.scenario.senders:
            rate = self.scenario.rate * sender.share
            cut = self.reopen - sender.give_up  # mail that arrived before this has bounced
            bounced[sender.name] = rate * max(0.0, cut)
            backlog[sender.name] = rate * min(self.reopen, sender.give_up)
            warning = sender.warning
            warned[sender.name] = 0.0 if warning is None else rate * max(0.0, self.reopen - warning)
            start = max(0.0, cut)
            cohorts = max(1, math.ceil((self.reopen - start) / self.step))
            width = (self.reopen - start) / cohorts
            for i in range(cohorts if width > 0 else 0):
                arrival = start + (i + 0.5) * width
                self._queue_backlog(sender, arrival, rate * width)
        return backlog, bounced, warned

    def _queue_backlog(self, sender: SenderClass, arrival: float, messages: float) -> None:
        if sender.anchor == "destination":
            self._schedule(sender, self._first_host_attempt(sender), 0, arrival, messages)
            return
        offsets = self.offsets[sender.name]
        # the first attempt at or after reopening (offsets are sorted: a sender measured over
        # days has a thousand of them, and the loss curves ask for every cohort of many outages)
        k = bisect.bisect_left(offsets, self.reopen - arrival)
        if k == len(offsets):  # its last attempt was during the outage: bounced at its give-up
            self.bounced_after[sender.name] += messages
            return
        self._schedule(sender, arrival + offsets[k], k, arrival, messages)

    def _outage_curve(self) -> tuple[OutagePoint, ...]:
        count = 200
        points = []
        for i in range(count + 1):
            t = self.reopen * i / count
            backlog, bounced = {}, {}
            for s in self.scenario.senders:
                rate = self.scenario.rate * s.share
                backlog[s.name] = rate * min(t, s.give_up)
                bounced[s.name] = rate * max(0.0, t - s.give_up)
            points.append(OutagePoint(t, backlog, bounced))
        return tuple(points)

    # -- after reopening, step by step ----------------------------------------------------

    def _schedule(
        self, sender: SenderClass, at: float, k: int, arrival: float, messages: float
    ) -> None:
        """Queue `messages` for an attempt due at `at` (absolute time), spread over the
        sender's queue runs [at, at + scan_interval)."""
        bucket = math.floor(arrival / self.scenario.age_resolution)
        due = self.due[sender.name]
        for j, fraction in self._spread(at - self.reopen, sender.scan_interval):
            due[j][(k, bucket)] += messages * fraction
        self.held[sender.name] += messages

    def _spread(self, start: float, width: float) -> list[tuple[int, float]]:
        first = max(0, math.floor(start / self.step))
        if width <= 0:
            return [(first, 1.0)]
        end = start + width
        pieces = []
        j = first
        while j * self.step < end:
            overlap = min(end, (j + 1) * self.step) - max(start, j * self.step)
            if overlap > 0:
                pieces.append((j, overlap / width))
            j += 1
        return pieces

    def _first_host_attempt(self, sender: SenderClass) -> float:
        hosts = self.host_offsets[sender.name]
        return hosts[bisect.bisect_left(hosts, self.reopen)]

    def _last_release(self) -> float:
        """Until when new mail may still be held (destination-anchored senders wait for their
        first attempt after reopening): the run must not stop before that."""
        times = [
            self._first_host_attempt(s) + s.scan_interval - self.reopen
            for s in self.scenario.senders
            if s.anchor == "destination"
        ]
        return max(times, default=0.0)

    def _step(self, j: int) -> StepPoint:
        scenario = self.scenario
        start = self.reopen + j * self.step
        self._add_new_mail(j, start)
        attempted: dict[str, dict[_Key, float]] = {}
        for sender in scenario.senders:
            entries = self.due[sender.name].pop(j, {})
            total = sum(entries.values())
            self.held[sender.name] -= total
            ceiling = self._class_ceiling(sender)
            if total > ceiling:  # waits for a connection slot: next step, same attempt
                share = ceiling / total
                later = self.due[sender.name][j + 1]
                for key, messages in entries.items():
                    later[key] += messages * (1 - share)
                self.held[sender.name] += total - ceiling
                entries = {key: messages * share for key, messages in entries.items()}
            attempted[sender.name] = dict(entries)
        offered = sum(sum(e.values()) for e in attempted.values())
        room = self.capacity * self.step
        accept = 1.0 if offered <= room else room / offered
        result: dict[str, dict[str, float]] = {
            name: {} for name in ("offered", "accepted", "deferred")
        }
        for sender in scenario.senders:
            entries = attempted[sender.name]
            sent = sum(entries.values())
            result["offered"][sender.name] = sent / self.step
            result["accepted"][sender.name] = sent * accept / self.step
            result["deferred"][sender.name] = sent * (1 - accept) / self.step
            if accept < 1:
                t = start + self.step / 2
                for (k, bucket), messages in entries.items():
                    self._echo(sender, t, k, bucket, messages * (1 - accept))
        return StepPoint(
            t=j * self.step,
            offered=result["offered"],
            accepted=result["accepted"],
            deferred=result["deferred"],
            backlog=dict(self.held),
        )

    def _add_new_mail(self, j: int, start: float) -> None:
        if not self.scenario.mail_after_reopening:
            return
        arrival = start + self.step / 2
        for sender in self.scenario.senders:
            messages = self.scenario.rate * sender.share * self.step
            if messages <= 0:
                continue
            if sender.anchor == "destination":
                released = self._first_host_attempt(sender)
                if start < released:  # "retry time not reached": new mail waits too
                    self._schedule(sender, released, 0, arrival, messages)
                    continue
            bucket = math.floor(arrival / self.scenario.age_resolution)
            self.due[sender.name][j][(0, bucket)] += messages
            self.held[sender.name] += messages

    def _class_ceiling(self, sender: SenderClass) -> float:
        if sender.hosts is None:
            return math.inf
        return sender.hosts * sender.concurrency / self.scenario.session_seconds * self.step

    def _echo(self, sender: SenderClass, t: float, k: int, bucket: int, messages: float) -> None:
        """A part refused with 4xx at `t`: retried one interval of the class's schedule later,
        or bounced when it is past its give-up or has no attempt left."""
        arrival = (bucket + 0.5) * self.scenario.age_resolution
        offsets = self.offsets[sender.name]
        if t - arrival >= sender.give_up or k + 1 >= len(offsets):
            self.bounced_after[sender.name] += messages
            return
        at = t + offsets[k + 1] - offsets[k]
        if at - arrival > sender.give_up and sender.anchor == "message":
            self.bounced_after[sender.name] += messages
            return
        self._schedule(sender, at, k + 1, arrival, messages)

    def _drain_time(self, steps: list[StepPoint], initial: float) -> float | None:
        limit = DRAIN_FRACTION * initial
        if sum(steps[-1].backlog.values()) > max(limit, 1e-9):
            return None
        drained = 0.0
        for point in steps:
            if sum(point.backlog.values()) > limit:
                drained = point.t + self.step
        return drained

    def _assumptions(self) -> tuple[str, ...]:
        s = self.scenario
        cap = "unlimited" if math.isinf(self.capacity) else f"{self.capacity:g} msgs/s"
        lines = [
            "Fluid, deterministic model: mail is a continuous flow of cohorts, not random "
            "messages; no message is lost or duplicated except by bouncing.",
            f"Normal inbound mail arrives at a constant {s.rate:g} msgs/s, before, during and "
            + ("after" if s.mail_after_reopening else "(not) after")
            + " the outage, split between sender classes by their shares; every message is "
            "first attempted when it arrives.",
            "During the outage every attempt fails with a temporary error (4xx or unreachable): "
            "nothing is rejected permanently, nothing is accepted.",
            "A message is bounced by its sender at its class's give-up time after its first "
            "attempt if not delivered by its last attempt; a message refused after reopening "
            "when already past its give-up is bounced then.",
            "'message'-anchored classes retry each message on its own schedule from its first "
            "attempt; 'destination'-anchored classes (Exim) keep one retry state per destination "
            "host, counted from the outage start: all their queued and new mail waits for the "
            "host's next retry time, then goes at once.",
            "Retries fall at the sender's next queue run; across many senders with unrelated "
            "clocks a retry due at T is spread uniformly over [T, T + scan interval).",
            f"After reopening the receiver accepts up to {cap} (the tighter of --capacity and "
            "--max-sessions / --session-time); beyond it, it answers 421 to every attempt in "
            "the same proportion, whatever the class.",
            "A message refused after reopening is retried one interval of its class's schedule "
            "later (the echo); for a destination-anchored class the host's schedule starts "
            "again at the refusal (a new failure episode).",
            "Per-host concurrency limits a class's rate only when its number of hosts is given "
            "(hosts x concurrency / session time); otherwise senders are not the bottleneck.",
            f"Time step {s.step:g} s after reopening; message ages for the give-up are resolved "
            f"to {s.age_resolution:g} s. Drain time: from when the mail still queued by senders "
            f"stays below {DRAIN_FRACTION:.0%} of the backlog at reopening.",
            "Not modelled: secondary MX hosts, senders' own rate limits and dead-destination "
            "throttling, per-recipient retry state, duplicates, mail resent by hand.",
        ]
        return tuple(lines)
