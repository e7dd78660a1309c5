"""One Locust process's messages: new arrivals paced by the curve, retries by their sender's
policy, and the counts the run's summary is made of.

A scheduler greenlet wakes every `TICK` seconds of wall time, asks the `Pacer` for this
process's new first attempts, moves retries that have come due from a heap (ordered by due
time) and puts both on a ready queue. Users (connection slots) take from that queue, run one
SMTP session each, and settle the message: delivered, bounced (5xx), or deferred (4xx, timeout,
connection trouble), which re-queues it at now + the class's next retry interval, divided by
the time factor, or lets it expire past the class's give-up.

Arrivals are released in `TICK` batches (10 ms), not spread within them.

A class's retry offsets are ages since the message's first release, as a measured schedule
states them, so a retry is due at `first_wall + offset`, not a fixed backoff after the
deferral: a first attempt that waited for a free slot gets a shorter gap before its retry,
as a queued message in the MTA whose schedule the class replays would. With `attempt_log`,
every attempt is kept (`Attempt`) so that a run's retries can be checked against the
receiver's own journal (both sides read the system-wide monotonic clock).
"""

from __future__ import annotations

import heapq
import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.queue import Queue

from harness.herd.run.curve import ArrivalCurve, Pacer
from harness.message_ids import new_message_id, sender_address

TICK = 0.01  #: seconds between scheduler wake-ups
SAMPLE_EVERY = 1.0  #: seconds between timeline samples


@dataclass(slots=True)
class Message:
    id: str
    class_index: int
    stage: int
    sender: str
    recipient: str
    first_wall: float  #: wall time of its first attempt in the run
    attempts: int = 0
    released: float = 0.0  #: wall time this attempt was put on the ready queue
    taken: float = 0.0  #: wall time a slot took this attempt


@dataclass(frozen=True, slots=True)
class Attempt:
    """One session of one message, as the attempt log keeps it (wall: seconds since start)."""

    message_id: str
    class_name: str
    stage: int
    number: int  #: 1 for the first attempt
    first_wall: float  #: when the message was first released
    released: float  #: when this attempt was put on the ready queue (due time, to a TICK)
    taken: float  #: when a slot took it and began the session
    outcome: str  #: delivered, bounced, deferred or abandoned


ATTEMPT_FIELDS = tuple(Attempt.__dataclass_fields__)


@dataclass
class Counts:
    """What happened to this process's messages (attempts are sessions, one per attempt)."""

    offered: int = 0  #: first attempts released
    attempts: int = 0
    delivered: int = 0
    deferred: int = 0  #: attempts that ended in a temporary failure
    bounced: int = 0  #: messages refused with 5xx
    expired: int = 0  #: messages whose sender would give up before the next retry
    retries: int = 0  #: retries released (re-attempts after a deferral)
    abandoned: int = 0  #: sessions cut by Locust stopping their user; the message went back
    by_class: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, class_name: str, key: str) -> None:
        row = self.by_class.setdefault(class_name, {})
        row[key] = row.get(key, 0) + 1


def _label(class_name: str) -> str:
    """A class name as one DNS label of the sender's domain (`postfix@bookworm` is a class
    named after its target column; `@` has no place in a domain)."""
    return re.sub(r"[^a-z0-9-]+", "-", class_name.lower()).strip("-") or "sender"


class MessageSource:
    def __init__(
        self,
        curve: ArrivalCurve,
        pacer: Pacer,
        *,
        time_factor: float,
        message_size: int,
        domain: str = "herd.mailstorm.test",
        attempt_log: bool = False,
    ) -> None:
        self.curve = curve
        self.pacer = pacer
        self.time_factor = time_factor
        self.domain = domain
        self.message_size = message_size
        self.counts = Counts()
        self.in_flight = 0
        self.timeline: list[dict[str, float]] = []
        self.started = 0.0  #: time.time() at start
        self.drained_at: float | None = None  #: wall seconds when the backlog hit 0 for good
        self.first_session: float | None = None  #: time.time() of the first take
        self.last_settled: float | None = None  #: time.time() of the last settle
        self._ready: Queue[Message] = Queue()
        self._retries: list[tuple[float, int, Message]] = []
        self._order = itertools.count()
        self._start_mono = 0.0
        self._scheduler: gevent.Greenlet[Any, Any] | None = None
        self._class_names = [policy.name for policy in curve.classes]
        #: Every attempt when asked for (memory grows with attempts: off for herd-scale runs).
        self.attempts: list[Attempt] | None = [] if attempt_log else None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.started = time.time()
        self._start_mono = time.monotonic()
        self._release(0.0)
        self._scheduler = gevent.spawn(self._schedule)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.kill(block=False)
            self._scheduler = None
        self._sample(self.wall())

    def wall(self) -> float:
        return time.monotonic() - self._start_mono

    @property
    def start_mono(self) -> float:
        """time.monotonic() at start: wall times plus this are the system's monotonic clock."""
        return self._start_mono

    @property
    def backlog(self) -> int:
        """Messages offered and not yet settled for good (queued, due, or in a session)."""
        counts = self.counts
        return counts.offered - counts.delivered - counts.bounced - counts.expired

    @property
    def finished(self) -> bool:
        """Nothing more will ever be sent: the curve is over (or the cap reached) and every
        message is settled."""
        return self.pacer.finished and self.backlog == 0

    # -- users ----------------------------------------------------------------------------

    def take(self) -> Message:
        message: Message = self._ready.get()
        message.taken = self.wall()
        message.attempts += 1
        self.counts.attempts += 1
        self.in_flight += 1
        if self.first_session is None:
            self.first_session = time.time()
        return message

    def delivered(self, message: Message) -> None:
        self._settled(message, "delivered")
        self.counts.delivered += 1
        self.counts.add(self._class_names[message.class_index], "delivered")

    def bounced(self, message: Message) -> None:
        self._settled(message, "bounced")
        self.counts.bounced += 1
        self.counts.add(self._class_names[message.class_index], "bounced")

    def deferred(self, message: Message) -> None:
        """Re-queue at the class's next attempt age (compressed), or let it expire."""
        self._settled(message, "deferred")
        self.counts.deferred += 1
        name = self._class_names[message.class_index]
        self.counts.add(name, "deferred")
        now = self.wall()
        policy = self.curve.classes[message.class_index]
        age = self.curve.queued_age + (now - message.first_wall) * self.time_factor
        upcoming = policy.next_attempt(age)
        if upcoming is None:
            self.counts.expired += 1
            self.counts.add(name, "expired")
            return
        due = message.first_wall + (upcoming - self.curve.queued_age) / self.time_factor
        heapq.heappush(self._retries, (due, next(self._order), message))

    def abandon(self, message: Message) -> None:
        """Its user was stopped mid-session: the message goes back to the queue, unsettled."""
        self.in_flight -= 1
        self.counts.abandoned += 1
        self._log(message, "abandoned")
        message.attempts -= 1
        self._ready.put(message)

    def _settled(self, message: Message, outcome: str) -> None:
        self.in_flight -= 1
        self.last_settled = time.time()
        self._log(message, outcome)

    def _log(self, message: Message, outcome: str) -> None:
        if self.attempts is None:
            return
        self.attempts.append(
            Attempt(
                message_id=message.id,
                class_name=self._class_names[message.class_index],
                stage=message.stage,
                number=message.attempts,
                first_wall=message.first_wall,
                released=message.released,
                taken=message.taken,
                outcome=outcome,
            )
        )

    # -- the scheduler --------------------------------------------------------------------

    def _schedule(self) -> None:
        next_sample = 0.0
        while True:
            now = self.wall()
            self._release(now)
            if now >= next_sample:
                self._sample(now)
                next_sample = now + SAMPLE_EVERY
            if self.drained_at is None and self.finished:
                self.drained_at = now
                self._sample(now)
            gevent.sleep(TICK)

    def _release(self, now: float) -> None:
        for class_index, stage, count in self.pacer.due(now):
            name = self._class_names[class_index]
            recipient = f"user@stage-{stage}.{self.domain}"
            sender_domain = f"{_label(name)}.{self.domain}"
            for _ in range(count):
                message_id = new_message_id()
                self._ready.put(
                    Message(
                        id=message_id,
                        class_index=class_index,
                        stage=stage,
                        sender=sender_address(message_id, sender_domain),
                        recipient=recipient,
                        first_wall=now,
                        released=now,
                    )
                )
            self.counts.offered += count
            row = self.counts.by_class.setdefault(name, {})
            row["offered"] = row.get("offered", 0) + count
        retries = self._retries
        while retries and retries[0][0] <= now:
            message = heapq.heappop(retries)[2]
            message.released = now
            self._ready.put(message)
            self.counts.retries += 1

    def _sample(self, now: float) -> None:
        counts = self.counts
        self.timeline.append(
            {
                "wall": round(now, 3),
                "offered": counts.offered,
                "attempts": counts.attempts,
                "delivered": counts.delivered,
                "deferred": counts.deferred,
                "bounced": counts.bounced,
                "expired": counts.expired,
                "backlog": self.backlog,
                "in_flight": self.in_flight,
                "waiting_retry": len(self._retries),
            }
        )

    def record(self) -> dict[str, Any]:
        """Everything the run's summary needs from this process, as JSON-ready data."""
        counts = self.counts
        return {
            "started": self.started,
            "start_mono": self._start_mono,
            "first_session": self.first_session,
            "last_settled": self.last_settled,
            "offered": counts.offered,
            "attempts": counts.attempts,
            "delivered": counts.delivered,
            "deferred": counts.deferred,
            "bounced": counts.bounced,
            "expired": counts.expired,
            "retries": counts.retries,
            "abandoned": counts.abandoned,
            "in_flight": self.in_flight,
            "backlog": self.backlog,
            "drained_at": self.drained_at,
            "pacer_finished": self.pacer.finished,
            "by_class": counts.by_class,
            "timeline": self.timeline,
        }
