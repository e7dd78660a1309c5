"""A conformance scenario: a fault plan for the receiver, plus what to send and how long to watch.

Scenarios are data (TOML files in `harness/scenarios/bundled/`, or a user's own) so that users add
their own without writing Python. Durations are real MTA time; the run's time scale compresses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.dns.zone import Failure
from harness.receiver.plan import FaultPlan, Reply, Stage
from harness.scenarios.mx import MxHostSpec, placeholder_addresses, scenario_zone

#: A stall this long (real seconds) or longer holds a sender's delivery process for minutes.
HOLDING_STALL = 60.0


class Kind(StrEnum):
    """The catalogue's families (docs/conformance.md), which also order the matrix."""

    REPLY = "reply"
    TRANSPORT = "transport"
    STATEFUL = "stateful"
    OUTAGE = "outage"
    DNS = "dns"  #: MX hosts and DNS answers: which host a sender tries, after which lookup


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
    #: the sender's own random choice (which address family, which equal MX first) decides
    #: each message's fate, so the counts are a draw: baselines compare which fates occur
    fates_vary: bool = False
    source: str = "<inline>"
    #: the MX hosts its domain names, each on its own addresses (harness/scenarios/mx.py);
    #: none: the scenario is routed by the static table, to one listener on its own port
    mx: tuple[MxHostSpec, ...] = ()
    #: the `[zone]` table: extra records, phases and DNS faults, checked when loaded
    zone: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def uses_dns(self) -> bool:
        """Whether the sender must look the domain up in the harness DNS (no static route)."""
        return bool(self.mx) or self.zone is not None

    @property
    def limits_concurrent_sessions(self) -> bool:
        """Whether a rule fires only while more than some number of sessions are open: its
        fault needs a sender that opens sessions side by side."""
        return any(rule.match.sessions_above is not None for rule in self.plan.rules)

    @property
    def limits_recipients_per_transaction(self) -> bool:
        """Whether a rule answers RCPT with RFC 3463's 4.5.3/5.5.3, "too many recipients": its
        fault needs a sender that gives one transaction more than one recipient."""
        return any(
            Stage.RCPT in rule.match.stages
            and isinstance(rule.action.outcome, Reply)
            and (rule.action.outcome.enhanced or "")[1:] == ".5.3"
            for rule in self.plan.rules
        )

    @property
    def holds_deliveries(self) -> bool:
        """Whether a rule stalls for a minute or more (a blackhole, a slow greeting, a stall),
        or the zone lets DNS questions go unanswered (`answer = "timeout"`).

        Such a scenario holds the sender's delivery process while it waits, and a sender that
        delivers its queue in sequence (an Exim queue run) makes every message behind it wait
        too: the neighbours' retry intervals would then be this scenario's blocking. So it
        runs in its own sender instance (`harness.cases.grouping`). An unanswered question
        holds longest of all: the resolver's timeouts are wall time, not the MTA's scaled
        clock, so at k = 60 one lookup lasts up to 20 real minutes. In a full run an Exim
        queue run stood about 15 wall seconds (900 real) on `dns-timeout`'s message: the five
        messages it had retried before got their first retry at 38 to 42 minutes, the eleven
        after it at 58 to 66 (the README's "What moves between full runs").
        """
        return (
            any(rule.action.stall >= HOLDING_STALL for rule in self.plan.rules)
            or self.dns_goes_unanswered
        )

    @property
    def dns_goes_unanswered(self) -> bool:
        """Whether a fault of the scenario's zone answers nothing at all (`answer = "timeout"`),
        read from the zone as the loader checked it (on documentation addresses)."""
        if self.zone is None:  # faults come only from the [zone] table
            return False
        zone = scenario_zone(
            self.domain, self.mx, self.zone, placeholder_addresses(self.mx), source=self.id
        )
        return any(fault.failure is Failure.TIMEOUT for fault in zone.faults)

    @property
    def domain(self) -> str:
        """Each scenario gets its own domain and so its own next hop in the sender."""
        return f"{self.id}.mailstorm.test"
