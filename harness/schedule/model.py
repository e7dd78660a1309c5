"""A retry schedule: when an MTA tried one undeliverable message, warned, and gave up.

The ledger gives attempts and DSNs in real MTA seconds since injection; a schedule is the shape
read off them (first retry, every interval, the longest, the delay warning, the give-up), kept
with what it was measured on (target, version, time scale, the target's distorted parameters),
because a schedule measured under compression means nothing without how compressed it was.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

from harness.ledger import CaseEvidence
from harness.report.model import Fate
from harness.targets import ScaledParameter


@dataclass(frozen=True)
class Schedule:
    """One message's retry schedule on one target, in real MTA seconds since injection."""

    target: str
    version: str
    variant: str
    time_scale: float
    attempts: tuple[float, ...]  #: the start of every attempt, sorted
    warning: float | None  #: when a `delayed` DSN came back; None if none did
    give_up: float | None  #: when the MTA gave up (a `failed` DSN, or the bounced fate)
    observed_for: float
    #: the target's scaled parameters, exact or not, as the time scale left them
    parameters: tuple[ScaledParameter, ...] = field(default=(), compare=False)
    #: how time was compressed: "scaled-config" (the MTA's time settings divided by k) or
    #: "clock-warp" (stock settings, the MTA's clock sped up k times)
    method: str = "scaled-config"

    @property
    def first_retry(self) -> float | None:
        """Delay from the first attempt to the second: the MTA's first backoff."""
        return self.intervals[0] if self.intervals else None

    @property
    def intervals(self) -> tuple[float, ...]:
        return tuple(b - a for a, b in itertools.pairwise(self.attempts))

    @property
    def longest_interval(self) -> float | None:
        """The cap the backoff reached (Postfix `maximal_backoff_time`, Exim's last rule)."""
        return max(self.intervals) if self.intervals else None

    @property
    def median_interval(self) -> float | None:
        return statistics.median(self.intervals) if self.intervals else None

    @property
    def distorted(self) -> tuple[ScaledParameter, ...]:
        return tuple(p for p in self.parameters if not p.exact)


def derive_schedule(
    evidence: CaseEvidence,
    *,
    target: str,
    version: str,
    variant: str,
    time_scale: float,
    parameters: tuple[ScaledParameter, ...] = (),
) -> Schedule:
    """Read the schedule off one case's evidence (one message).

    The warning is the first DSN whose recipients are all `delayed`; the give-up is the first
    DSN with a `failed` recipient or, when the DSN itself did not come back, the time the ledger
    settled the recipient as bounced.
    """
    warning = next(
        (
            t
            for t, _, report in evidence.dsns
            if report.recipients and all(b.action == "delayed" for b in report.recipients)
        ),
        None,
    )
    failure = evidence.failure_dsn()
    give_up = failure[0] if failure else None
    if give_up is None:
        bounced = [f.settled_t for f in evidence.fates if f.fate is Fate.BOUNCED and f.settled_t]
        give_up = min(bounced) if bounced else None
    return Schedule(
        target=target,
        version=version,
        variant=variant,
        time_scale=time_scale,
        attempts=tuple(sorted(a.t for a in evidence.attempts)),
        warning=warning,
        give_up=give_up,
        observed_for=evidence.observed_for,
        parameters=parameters,
    )
