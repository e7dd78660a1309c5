"""A conformance scenario: a fault plan for the receiver, plus what to send and how long to watch.

Scenarios are data (TOML files in `harness/scenarios/bundled/`, or a user's own) so that users add
their own without writing Python. Durations are real MTA time; the run's time scale compresses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.receiver.plan import FaultPlan

#: A stall this long (real seconds) or longer holds a sender's delivery process for minutes.
HOLDING_STALL = 60.0


class Kind(StrEnum):
    """The catalogue's families (docs/conformance.md), which also order the matrix."""

    REPLY = "reply"
    TRANSPORT = "transport"
    STATEFUL = "stateful"
    OUTAGE = "outage"


class Tier(StrEnum):
    """How hard a scenario's time may be compressed.

    `fine` keeps timeouts and minutes-long stalls measurable (whole-second MTA settings survive
    a small scale); `coarse` lets multi-day outages pass in minutes. Each tier runs in its own
    containers, because a target's clock is set when it starts.
    """

    FINE = "fine"
    COARSE = "coarse"


@dataclass(frozen=True)
class Scenario:
    id: str
    kind: Kind
    description: str
    plan: FaultPlan
    checks: tuple[str, ...]  #: check ids (harness.conformance.checks) judged for this scenario
    observe: float  #: real seconds to watch after the first injection
    tier: Tier = Tier.FINE
    messages: int = 1
    recipients: tuple[str, ...] = ("user",)  #: local parts, at the scenario's own domain
    spread: float = 0.0  #: real seconds over which the messages are injected, evenly
    size: int = 1024
    refuse_until: float | None = None  #: nothing listens (connection refused) until then
    settle: bool = True  #: stop watching once every recipient is delivered or bounced
    source: str = "<inline>"

    @property
    def holds_deliveries(self) -> bool:
        """Whether a rule stalls for a minute or more (a blackhole, a slow greeting, a stall).

        Such a scenario holds the sender's delivery process while it waits, and a sender that
        delivers its queue in sequence (an Exim queue run) makes every message behind it wait
        too: the neighbours' retry intervals would then be this scenario's blocking. So it
        runs in its own sender instance (`harness.cases.grouping`).
        """
        return any(rule.action.stall >= HOLDING_STALL for rule in self.plan.rules)

    @property
    def domain(self) -> str:
        """Each scenario gets its own domain and so its own next hop in the sender."""
        return f"{self.id}.mailstorm.test"
