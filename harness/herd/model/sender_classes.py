"""Sender classes: how one kind of sender MTA retries mail it could not deliver to us.

The herd model needs, for every kind of sender that sends us mail, when it retries a deferred
message, when it gives up, how many connections it opens to us and what share of our normal
inbound mail it carries. Those numbers come from three places, and `source` always says which:
a schedule measured by `mailstorm schedule`, a documented default (Postfix's and Exim's manuals
and Debian's configuration), or a parameter the user states (a large mailbox provider, whose
retry policy is not published).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Literal

#: How a class's retries are timed. "message": every message follows the schedule from its own
#: first attempt (Postfix: the backoff grows with the message's age). "destination": the sender
#: keeps one retry state per destination host, so every queued message waits for the host's next
#: retry time, counted from the host's first failure (Exim; see docs/herd-model.md).
Anchor = Literal["message", "destination"]
#: Where a class's numbers come from, shown beside every result made from it: "measured" by
#: `mailstorm schedule`/`matrix`; "documented" by the MTA's or the provider's own documentation
#: (documented, not measured); "assumption" stated by the user or by us; "weak" documented by
#: nobody, a guess bracketed by a range (Gmail).
Evidence = Literal["measured", "documented", "assumption", "weak"]
EVIDENCE: tuple[Evidence, ...] = ("measured", "documented", "assumption", "weak")

DAY = 86400.0


@dataclass(frozen=True)
class Backoff:
    """A retry rule that extends an explicit schedule up to the give-up time.

    After the last explicit offset, intervals start at `interval` and are multiplied by
    `factor` after each attempt, never exceeding `maximum` (None: no ceiling).
    """

    interval: float
    factor: float = 1.0
    maximum: float | None = None

    def __post_init__(self) -> None:
        if not self.interval > 0 or not math.isfinite(self.interval):
            raise ValueError(f"backoff interval must be > 0 seconds, not {self.interval!r}")
        if not self.factor >= 1:
            raise ValueError(f"backoff factor must be >= 1, not {self.factor!r}")
        if self.maximum is not None and not self.maximum >= self.interval:
            raise ValueError("backoff maximum must be >= its first interval")


@dataclass(frozen=True)
class SenderClass:
    """One kind of sender MTA, as the herd model sees it. Times are real seconds.

    `retry_offsets` are the retries after the first failed attempt (which is at 0), strictly
    increasing; `backoff` extends them up to `give_up`, the queue lifetime after which the
    message is bounced to its sender. `concurrency` is the connection slots one sending host
    opens toward our domain; `hosts` (None: unknown) is how many such hosts the class has,
    which turns concurrency into a ceiling on the class's delivery rate. `share` is the
    fraction of our normal inbound mail the class carries. `scan_interval` is the sender's
    queue run period: a retry due at T happens at its next queue run, which across a population
    of senders with unrelated clocks spreads uniformly over [T, T + scan_interval).
    `rcpt_anchor` is the anchoring when the receiver defers at RCPT rather than failing as a
    host (refused, no greeting, 4xx at the greeting), where a sender keeps a different state:
    Exim keys a RCPT deferral on the address and sender, not the host (None: as `anchor`).
    """

    name: str
    retry_offsets: tuple[float, ...]
    give_up: float
    share: float
    source: str
    backoff: Backoff | None = None
    warning: float | None = None
    concurrency: int = 1
    hosts: int | None = None
    scan_interval: float = 0.0
    anchor: Anchor = "message"
    evidence: Evidence = "documented"
    rcpt_anchor: Anchor | None = None

    def __post_init__(self) -> None:
        where = f"sender class {self.name!r}"
        if not self.name or "=" in self.name or "," in self.name:
            raise ValueError(f"{where}: a name must be non-empty, without '=' or ','")
        if any(not math.isfinite(t) or t <= 0 for t in self.retry_offsets):
            raise ValueError(f"{where}: retry offsets must be finite and > 0 seconds")
        if any(b <= a for a, b in itertools.pairwise(self.retry_offsets)):
            raise ValueError(f"{where}: retry offsets must be strictly increasing")
        if not self.retry_offsets and self.backoff is None:
            raise ValueError(f"{where}: give retry offsets, a backoff rule, or both")
        if not self.give_up > 0 or not math.isfinite(self.give_up):
            raise ValueError(f"{where}: give_up must be > 0 seconds")
        if not 0 <= self.share <= 1:
            raise ValueError(f"{where}: share must be within 0..1, not {self.share!r}")
        if self.concurrency < 1:
            raise ValueError(f"{where}: concurrency must be >= 1")
        if self.hosts is not None and self.hosts < 1:
            raise ValueError(f"{where}: hosts must be >= 1 when given")
        if self.scan_interval < 0:
            raise ValueError(f"{where}: scan_interval must be >= 0")
        if self.anchor not in ("message", "destination"):
            raise ValueError(f"{where}: anchor must be 'message' or 'destination'")
        if self.rcpt_anchor not in (None, "message", "destination"):
            raise ValueError(f"{where}: rcpt_anchor must be 'message' or 'destination'")
        if self.evidence not in EVIDENCE:
            raise ValueError(f"{where}: evidence must be one of {', '.join(EVIDENCE)}")

    def deferred_at_rcpt(self) -> SenderClass:
        """This class when the receiver answers 4xx to RCPT (a 451 outage): its `rcpt_anchor`
        if it has one."""
        if self.rcpt_anchor is None or self.rcpt_anchor == self.anchor:
            return self
        return replace(self, anchor=self.rcpt_anchor)

    def attempt_offsets(self, until: float | None = None) -> tuple[float, ...]:
        """Every attempt, 0 first, up to and including `until` (default: `give_up`): the
        explicit offsets, then the backoff rule's. A message not delivered by its last attempt
        is bounced at `give_up`. A destination-anchored class's host schedule goes on past
        `give_up` (newer messages still wait for it), hence `until`."""
        limit = self.give_up if until is None else until
        offsets = [0.0, *(t for t in self.retry_offsets if t <= limit)]
        if self.backoff is not None:
            interval = self.backoff.interval
            while offsets[-1] + interval <= limit:
                offsets.append(offsets[-1] + interval)
                interval *= self.backoff.factor
                if self.backoff.maximum is not None:
                    interval = min(interval, self.backoff.maximum)
        return tuple(offsets)

    def next_attempt(self, age: float) -> float | None:
        """The age (real seconds since the first attempt) of the next attempt after one made at
        `age`, or None when that would be past `give_up`: what a replayed sender does with a
        deferral (the herd run's Locust side asks this for every 4xx)."""
        explicit = (0.0, *self.retry_offsets)
        for offset in explicit:
            if offset > age:
                return offset if offset <= self.give_up else None
        backoff = self.backoff
        if backoff is None:
            return None
        last = explicit[-1]
        if backoff.factor == 1.0 and backoff.maximum is None:  # exact: no summing of steps
            steps = math.floor((age - last) / backoff.interval) + 1
            upcoming = last + steps * backoff.interval
        else:
            upcoming, interval = last, backoff.interval
            while upcoming <= age:
                upcoming += interval
                interval *= backoff.factor
                if backoff.maximum is not None:
                    interval = min(interval, backoff.maximum)
        return upcoming if upcoming <= self.give_up else None

    @classmethod
    def from_attempts(
        cls,
        name: str,
        attempts: tuple[float, ...],
        *,
        give_up: float,
        concurrency: int,
        share: float = 1.0,
        source: str = "an arrival curve",
    ) -> SenderClass:
        """A class from its attempt times (0 first, at least one retry), whose last interval
        then repeats until `give_up` (a maximal backoff): the arrival curve's form of a class."""
        if len(attempts) < 2 or attempts[0] != 0:
            raise ValueError("retry_offsets must start at 0 and list at least one retry")
        if any(later <= earlier for earlier, later in itertools.pairwise(attempts)):
            raise ValueError("retry_offsets must be strictly increasing")
        return cls(
            name=name,
            retry_offsets=attempts[1:],
            backoff=Backoff(attempts[-1] - attempts[-2]),
            give_up=give_up,
            concurrency=concurrency,
            share=share,
            source=source,
        )

    def with_share(self, share: float) -> SenderClass:
        """The same class carrying another share of the inbound mail."""
        return replace(self, share=share)


def exim_retry_offsets(
    rules: tuple[tuple[str, float, float, float], ...], give_up: float
) -> tuple[float, ...]:
    """Retry times of an Exim retry rule list, e.g. `F,2h,15m; G,16h,1h,1.5; F,4d,6h`.

    Each rule is (kind, cutoff, interval, factor): the rule in force is the first whose cutoff
    is still ahead of the failure; F retries every `interval`, G starts at `interval` and
    multiplies it by `factor` at each retry (Exim spec, chapter 32 "Retry configuration").
    """
    offsets: list[float] = []
    t = 0.0
    geometric: dict[int, float] = {}
    while True:
        index = next((i for i, rule in enumerate(rules) if t < rule[1]), None)
        if index is None:
            break
        kind, _cutoff, interval, factor = rules[index]
        if kind == "G":
            interval = geometric.get(index, interval)
            geometric[index] = interval * factor
        t += interval
        if t > give_up:
            break
        offsets.append(t)
    return tuple(offsets)


def postfix_default(share: float = 0.0) -> SenderClass:
    """Postfix 3.7 with its stock configuration (postconf(5) defaults).

    The queue manager defers a message by its age, clamped between minimal_backoff_time (300 s)
    and maximal_backoff_time (4000 s): retries at 300, 600, 1200, 2400, 4800 s, then every
    4000 s, at queue scans every queue_run_delay (300 s), until maximal_queue_lifetime (5 d).
    delay_warning_time is 0 (no warning); default_destination_concurrency_limit is 20.
    """
    return SenderClass(
        name="postfix",
        retry_offsets=(300.0, 600.0, 1200.0, 2400.0, 4800.0),
        backoff=Backoff(4000.0),
        give_up=5 * DAY,
        warning=None,
        concurrency=20,
        scan_interval=300.0,
        anchor="message",
        share=share,
        source=(
            "documented default: Postfix postconf(5) minimal_backoff_time=300s, "
            "maximal_backoff_time=4000s, queue_run_delay=300s, maximal_queue_lifetime=5d, "
            "delay_warning_time=0, default_destination_concurrency_limit=20"
        ),
    )


#: Debian's exim4 retry rule: `*  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h`.
EXIM_DEBIAN_RETRY = (
    ("F", 2 * 3600.0, 15 * 60.0, 1.0),
    ("G", 16 * 3600.0, 3600.0, 1.5),
    ("F", 4 * DAY, 6 * 3600.0, 1.0),
)


def exim_default(share: float = 0.0) -> SenderClass:
    """Exim 4.96 with Debian's configuration (exim4-config, bookworm).

    Retry rule `F,2h,15m; G,16h,1h,1.5; F,4d,6h`, kept per destination host (Exim spec ch. 32:
    "per-host ... not on a per-message basis") for host errors (refused, timeout, 4xx at the
    greeting); a 4xx to RCPT is keyed on the address and the sender instead
    (transports/smtp.c: "Add a retry item for the address", `address_retry_include_sender`),
    so under a RCPT deferral each recipient follows the rule from its own first failure. The
    daemon runs the queue every 30 minutes (QUEUEINTERVAL='30m'); delay_warning=1d;
    queue_run_max=5 queue runners, each delivering one message at a time
    (remote_max_parallel=2 parallelises the recipients of one message):
    5 connections to us per host. Past the final cutoff (4 d) the host is tried at each queue
    run, and a message older than the cutoff is bounced when that attempt fails: the measured
    schedule (reports/*-schedule) shows exactly this, a last attempt minutes after 4 d.
    """
    return SenderClass(
        name="exim",
        retry_offsets=(*exim_retry_offsets(EXIM_DEBIAN_RETRY, 4 * DAY), 4 * DAY),
        backoff=Backoff(1800.0),
        give_up=4 * DAY,
        warning=DAY,
        concurrency=5,
        scan_interval=1800.0,
        anchor="destination",
        rcpt_anchor="message",
        share=share,
        source=(
            "documented default: Debian exim4 4.96 retry rule F,2h,15m; G,16h,1h,1.5; F,4d,6h, "
            "QUEUEINTERVAL=30m, delay_warning=1d, queue_run_max=5, remote_max_parallel=2 "
            "(exim -bP in the exim target); per-host retry state (Exim spec ch. 32), per "
            "address and sender for a 4xx to RCPT (transports/smtp.c)"
        ),
    )


def nullmailer_default(share: float = 0.0) -> SenderClass:
    """nullmailer 2.2 with its defaults (src/send.cc): one pass over the whole queue to its
    smarthost, then a pause of `pausetime` (60 s) doubling after every pass up to `maxpause`
    (24 h), so retries at 60 x (2^n - 1) s for n = 1..11 (34.1 h), then every day; the
    message is bounced at the first failed pass after `queuelifetime` (7 d). One message at a
    time; every queued message is tried at each pass, so the schedule is the queue's
    (anchored on the destination, its one smarthost). A new message resets the pause: not
    modelled."""
    return SenderClass(
        name="nullmailer",
        retry_offsets=tuple(60.0 * (2**n - 1) for n in range(1, 12)),
        backoff=Backoff(DAY),
        give_up=7 * DAY,
        warning=None,
        concurrency=1,
        scan_interval=0.0,
        anchor="destination",
        share=share,
        source=(
            "documented default: nullmailer 2.2 src/send.cc pausetime=60s doubling to "
            "maxpause=24h, queuelifetime=7d, one delivery at a time"
        ),
    )


def dma_default(share: float = 0.0) -> SenderClass:
    """dma 0.13 as Debian installs it (dma.h, dma.c; /etc/cron.d/dma): its own pauses (5 min,
    then 1.5 to 2.5 times the last, up to 3 h) never run long, because the cron job's `dma -q`
    every 5 minutes wakes every sleeping delivery, which retries at the end of its 30-second
    nap with its pause reset. So every queued message is tried at each flush, every 5 minutes
    of the wall clock (cron's `*/5`: on every such host at the same minutes), until the first
    failure after 5 days. No delay warning. One process per queued recipient and no limit on
    them: the concurrency toward us is its queue's size, 10 assumed here."""
    return SenderClass(
        name="dma",
        retry_offsets=(),
        backoff=Backoff(300.0),
        give_up=5 * DAY,
        warning=None,
        concurrency=10,
        scan_interval=300.0,
        anchor="destination",
        share=share,
        source=(
            "documented default: dma 0.13 dma.h MAX_TIMEOUT=5d, Debian's /etc/cron.d/dma "
            "`dma -q` every 5 min (flushqueue_since resets every sleeping delivery's pause); "
            "one process per recipient, no limit (concurrency 10: an assumption)"
        ),
    )


def haraka_default(share: float = 0.0) -> SenderClass:
    """Haraka 3.1.6's outbound defaults (outbound/config.js, hmail.js): the n-th deferral
    waits 2^(n+5) s, counted from that deferral, and the 13th failure bounces; so attempts at
    64 s, 192 s, 448 s, ... after the first, doubling, the last 72.8 h after it, which is the
    give-up. Each message on its own timer (no queue run). No delay warning. One connection
    per queued message and domain, limited only by `concurrency_max` (10000): 10 assumed."""
    intervals = [float(2 ** (n + 5)) for n in range(1, 13)]
    offsets = tuple(itertools.accumulate(intervals))
    return SenderClass(
        name="haraka",
        retry_offsets=offsets,
        give_up=offsets[-1],
        warning=None,
        concurrency=10,
        share=share,
        source=(
            "documented default: Haraka 3.1.6 outbound/config.js (no temp_fail_intervals: "
            "2^(n+5) s after the n-th failure, maxTempFailures=13, give-up 72.8 h); one "
            "connection per queued message (concurrency 10: an assumption)"
        ),
    )


def opensmtpd_default(share: float = 0.0) -> SenderClass:
    """OpenSMTPD 7.6 with Debian's configuration: the ramqueue scheduler tries an envelope
    again at creation + 400 s x n² for its n-th retry (scheduler_ramqueue.c,
    `BACKOFF_TRANSFER`, `scheduler_backoff`), on its own timer (no queue run, anchored on the
    message), until `queue ttl` 4 days (smtpd.h `SMTPD_QUEUE_EXPIRY`); a delay warning after
    4 hours (`bounce warn-interval`). At most 5 connections per route (limit.c
    `maxconn_per_route`)."""
    offsets = tuple(400.0 * n * n for n in range(1, 30) if 400.0 * n * n < 4 * DAY)
    return SenderClass(
        name="opensmtpd",
        retry_offsets=offsets,
        backoff=None,
        give_up=4 * DAY,
        warning=4 * 3600.0,
        concurrency=5,
        scan_interval=0.0,
        anchor="message",
        share=share,
        source=(
            "documented default: OpenSMTPD 7.6 scheduler_ramqueue.c BACKOFF_TRANSFER=400 "
            "(retry n at 400 s x n² after queueing), smtpd.h SMTPD_QUEUE_EXPIRY=4d, bounce "
            "warn-interval 4h, limit.c maxconn_per_route=5"
        ),
    )


def sendmail_default(share: float = 0.0) -> SenderClass:
    """Sendmail 8.18 with Debian's configuration: no per-message schedule; the daemon forks a
    queue runner every 10 minutes (`-q10m`, QUEUE_INTERVAL in /etc/mail/sendmail.conf) and
    each run tries every queued message (no MinQueueAge), one after another in one session:
    so every queued message goes at the next run (anchored on the destination, a queue run
    of 10 min). Returned at the first attempt after `Timeout.queuereturn` 5 days; a delay
    warning after `Timeout.queuewarn` 4 hours. One connection per queue run."""
    return SenderClass(
        name="sendmail",
        retry_offsets=(),
        backoff=Backoff(600.0),
        give_up=5 * DAY,
        warning=4 * 3600.0,
        concurrency=1,
        scan_interval=600.0,
        anchor="destination",
        share=share,
        source=(
            "documented default: Debian sendmail 8.18 QUEUE_INTERVAL=10m (-q10m), no "
            "MinQueueAge, Timeout.queuereturn=5d, Timeout.queuewarn=4h; one queue runner "
            "delivering in turn"
        ),
    )


#: The built-in documented classes by name, used when no measured schedule is given.
BUILTIN_CLASSES = {
    "postfix": postfix_default,
    "exim": exim_default,
    "nullmailer": nullmailer_default,
    "dma": dma_default,
    "haraka": haraka_default,
    "opensmtpd": opensmtpd_default,
    "sendmail": sendmail_default,
}
