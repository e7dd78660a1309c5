"""What the receiver does in a reopen experiment: fail for the outage, then reopen by a policy.

The outage is one of the three ways a receiver can be down that make senders queue rather than
bounce (`4xx`: 451 to every RCPT; `refused`: nothing listens; `blackhole`: connections accepted,
no greeting ever). After it the receiver reopens either fully (`open`: accept everything, what a
service that just came back does) or with admission control (`admission`: 421 at the greeting
while more than C sessions are open, so at most C are ever served at once). Both are plain fault
plans in real MTA time, so the receiver scales them by the run's k like any scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from harness.receiver import FaultPlan, plan_from_mapping

#: What the receiver says to a sender over capacity (RFC 5321 4.2.2 / 3.8: 421 closes).
ADMISSION_REPLY = "421 4.7.0 too many connections, try again later"
OUTAGE_REPLY = "451 4.3.0 service temporarily unavailable"


class OutageVariant(StrEnum):
    """How the receiver is down during the outage (every one makes senders queue)."""

    REPLY_4XX = "4xx"
    REFUSED = "refused"
    BLACKHOLE = "blackhole"


class Policy(StrEnum):
    """How the receiver reopens."""

    OPEN = "open"  #: accept every session
    ADMISSION = "admission"  #: 421 at the greeting above C concurrent sessions


@dataclass(frozen=True)
class ReceiverSchedule:
    """The receiver's plan and refusal window for one policy (times in real MTA seconds)."""

    plan: FaultPlan
    refuse_until: float | None


def receiver_schedule(
    variant: OutageVariant, policy: Policy, *, outage: float, capacity: int
) -> ReceiverSchedule:
    """The plan for `variant` during `outage` real seconds, then `policy` with `capacity`."""
    rules: list[dict[str, Any]] = []
    if variant is OutageVariant.REPLY_4XX:
        rules.append({"name": "outage", "stage": "rcpt", "before": outage, "reply": OUTAGE_REPLY})
    elif variant is OutageVariant.BLACKHOLE:
        rules.append({"name": "outage", "stage": "greeting", "before": outage, "stall": "forever"})
    if policy is Policy.ADMISSION:
        # Only after reopening: during a 4xx outage the greeting must stay the same for both
        # policies, or they would build different queues.
        rules.append(
            {
                "name": f"admission above {capacity}",
                "stage": "greeting",
                "after": outage,
                "sessions_above": capacity,
                "reply": ADMISSION_REPLY,
            }
        )
    plan = plan_from_mapping(
        {
            "name": f"reopen-{variant.value}-{policy.value}",
            "description": f"{variant.value} outage, then reopen {policy.value}",
            "rule": rules,
        },
        source=f"<reopen {variant.value} {policy.value}>",
    )
    refuse_until = outage if variant is OutageVariant.REFUSED else None
    return ReceiverSchedule(plan, refuse_until)
