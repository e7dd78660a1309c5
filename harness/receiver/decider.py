"""The decision engine: given what the receiver knows at a stage, which rule fires.

It owns all the plan's state (attempt counters, greylist triplets, open sessions, the seeded
random streams, the plan's start time), so that state lives in one place and resets in one call.
It is used from the receiver's event loop only, so it needs no locks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.receiver.plan import (
    ACCEPT_ALL,
    Accept,
    Action,
    FaultPlan,
    Match,
    Pattern,
    Rule,
    Stage,
)


@dataclass(frozen=True)
class Facts:
    """What the receiver knows when it decides; `pair_attempts` runs parallel to `recipients`."""

    stage: Stage
    listener: str
    listen_address: str
    client: str
    helo: str = ""
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    message_attempt: int | None = None
    pair_attempts: tuple[int, ...] = ()


@dataclass(frozen=True)
class Decision:
    """The outcome of one decision: the rule that fired (None: default accept) and its action."""

    rule: Rule | None
    action: Action
    draw: float | None = None  #: the random draw, when the rule had a probability

    def describe(self) -> str:
        if self.rule is None:
            return "default: accept"
        draw = f" (draw {self.draw:.4f})" if self.draw is not None else ""
        return f"rule {self.rule.index + 1} '{self.rule.name}'{draw}"


DEFAULT_ACCEPT = Decision(rule=None, action=Action(outcome=Accept()))


class Decider:
    """Evaluates a `FaultPlan` against `Facts`, keeping the plan's state."""

    def __init__(
        self,
        plan: FaultPlan = ACCEPT_ALL,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        stream_salt: str = "",
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        self._clock = clock
        #: distinguishes the random streams of processes sharing one plan (same seed)
        self.stream_salt = stream_salt
        self.open_sessions = 0
        #: open sessions per client address (the sessions' `client`), for client_sessions_above
        self.client_sessions: dict[str, int] = {}
        self.plan = plan
        self.reset(plan)

    def reset(self, plan: FaultPlan | None = None) -> None:
        """Start the plan over (now is elapsed time 0) and forget every counter."""
        self.plan = plan if plan is not None else self.plan
        self.started = self._clock()
        self._by_stage = {stage: self.plan.rules_for(stage) for stage in Stage}
        self._message_attempts: dict[str, int] = {}
        self._pair_attempts: dict[tuple[str, str], int] = {}
        self._greylist_first_seen: dict[tuple[str, str, str], float] = {}
        self._streams = {
            rule.index: random.Random(f"{self.plan.seed}/{rule.index}{self.stream_salt}")
            for rule in self.plan.rules
        }

    def elapsed_real(self) -> float:
        """Real MTA seconds since the plan started (wall seconds times the time scale)."""
        return (self._clock() - self.started) * self.time_scale

    def wall_seconds(self, real_seconds: float) -> float:
        """How long `real_seconds` of MTA time lasts on the wall clock of this run."""
        return real_seconds / self.time_scale

    def count_message_attempt(self, key: str) -> int:
        attempt = self._message_attempts.get(key, 0) + 1
        self._message_attempts[key] = attempt
        return attempt

    def count_pair_attempt(self, sender: str, recipient: str) -> int:
        pair = (sender.lower(), recipient.lower())
        attempt = self._pair_attempts.get(pair, 0) + 1
        self._pair_attempts[pair] = attempt
        return attempt

    def has_rules(self, stage: Stage) -> bool:
        return bool(self._by_stage[stage])

    def decide(self, facts: Facts) -> Decision:
        for rule in self._by_stage[facts.stage]:
            if not self._holds(rule.match, facts):
                continue
            draw: float | None = None
            if rule.match.probability is not None:
                draw = self._streams[rule.index].random()
                if draw >= rule.match.probability:
                    continue
            return Decision(rule=rule, action=rule.action, draw=draw)
        return DEFAULT_ACCEPT

    def _holds(self, match: Match, facts: Facts) -> bool:
        if match.listener and not (
            _any(match.listener, facts.listener) or _any(match.listener, facts.listen_address)
        ):
            return False
        if match.client and not _any(match.client, facts.client):
            return False
        if match.helo and not _any(match.helo, facts.helo):
            return False
        if match.sender and not _any(match.sender, facts.sender or ""):
            return False
        if match.recipient and not _any_of(match.recipient, facts.recipients):
            return False
        if match.recipient_domain and not _any_of(
            match.recipient_domain, [_domain(address) for address in facts.recipients]
        ):
            return False
        if match.message_attempt is not None and not (
            facts.message_attempt is not None
            and match.message_attempt.contains(facts.message_attempt)
        ):
            return False
        if match.pair_attempt is not None and not any(
            match.pair_attempt.contains(attempt) for attempt in facts.pair_attempts
        ):
            return False
        if match.sessions_above is not None and self.open_sessions <= match.sessions_above:
            return False
        if (
            match.client_sessions_above is not None
            and self.client_sessions.get(facts.client, 0) <= match.client_sessions_above
        ):
            return False
        if match.after is not None or match.before is not None:
            elapsed = self.elapsed_real()
            if match.after is not None and elapsed < match.after:
                return False
            if match.before is not None and elapsed >= match.before:
                return False
        return match.greylist is None or self._greylisted(match.greylist, facts)

    def _greylisted(self, delay: float, facts: Facts) -> bool:
        now = self._clock()
        greylisted = False
        for recipient in facts.recipients:
            triplet = (facts.client, (facts.sender or "").lower(), recipient.lower())
            first_seen = self._greylist_first_seen.setdefault(triplet, now)
            if (now - first_seen) * self.time_scale < delay:
                greylisted = True
        return greylisted


def _any(patterns: Sequence[Pattern], value: str) -> bool:
    return any(pattern.matches(value) for pattern in patterns)


def _any_of(patterns: Sequence[Pattern], values: Sequence[str]) -> bool:
    return any(_any(patterns, value) for value in values)


def _domain(address: str) -> str:
    return address.rpartition("@")[2]
