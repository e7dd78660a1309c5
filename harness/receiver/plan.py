"""The fault plan: an ordered list of rules, each a match and an action.

A plan is data, written in *real MTA time*: the receiver divides every duration by the run's
time scale. Rules are tried in order at each SMTP stage; the first rule whose conditions all hold
decides what the receiver does, and no matching rule means the receiver behaves like a normal,
accepting server. Plans are built by `harness.receiver.plan_loader` from TOML or from a mapping;
both go through the same validation.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Stage(StrEnum):
    """Where in an SMTP session a rule applies."""

    GREETING = "greeting"  #: the connection is accepted, before the 220 banner
    EHLO = "ehlo"  #: EHLO or HELO
    MAIL = "mail"  #: MAIL FROM
    RCPT = "rcpt"  #: RCPT TO, once per recipient
    DATA = "data"  #: the DATA command, before 354
    BDAT = "bdat"  #: a BDAT chunk (RFC 3030), once its command is read; the last one is then EOD
    EOD = "eod"  #: end-of-data: the message has been read, its reply is due
    QUIT = "quit"  #: QUIT


STAGE_ALIASES: Mapping[str, Stage] = {
    "connect": Stage.GREETING,
    "helo": Stage.EHLO,
    "end-of-data": Stage.EOD,
    **{stage.value: stage for stage in Stage},
}

#: Stages at which the sender is known.
STAGES_WITH_SENDER = frozenset(
    {Stage.MAIL, Stage.RCPT, Stage.DATA, Stage.BDAT, Stage.EOD, Stage.QUIT}
)
#: Stages at which at least one recipient is known.
STAGES_WITH_RECIPIENTS = frozenset({Stage.RCPT, Stage.DATA, Stage.BDAT, Stage.EOD, Stage.QUIT})


@dataclass(frozen=True)
class Pattern:
    """A string condition: a glob (exact when it has no wildcard) or a regular expression.

    Matching ignores case: mail addresses and host names are compared case-insensitively in
    practice, and a plan that silently missed `User@Example.test` would be a trap.
    """

    source: str
    is_regex: bool = False
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        expression = self.source if self.is_regex else fnmatch.translate(self.source)
        object.__setattr__(self, "_compiled", re.compile(expression, re.IGNORECASE))

    def matches(self, value: str) -> bool:
        if self.is_regex:
            return self._compiled.search(value) is not None
        return self._compiled.match(value) is not None


@dataclass(frozen=True)
class AttemptRange:
    """Inclusive range of attempt numbers (1 is the first attempt); `high=None` is open."""

    low: int = 1
    high: int | None = None

    def contains(self, attempt: int) -> bool:
        return attempt >= self.low and (self.high is None or attempt <= self.high)


@dataclass(frozen=True)
class Match:
    """The conditions of a rule; all given conditions must hold (an empty tuple is no condition).

    Durations are real MTA seconds. `message_attempt` counts the transactions (MAIL commands) of
    one harness message; `pair_attempt` counts RCPT commands for one sender/recipient pair;
    `greylist` holds while the client/sender/recipient triplet was first seen less than that
    many seconds ago; `sessions_above` holds while more than that many sessions are open
    (this one included); `client_sessions_above` the same counting only the sessions from this
    session's client address: per-IP admission control, as receivers throttle a herd.
    """

    stages: frozenset[Stage]
    listener: tuple[Pattern, ...] = ()
    client: tuple[Pattern, ...] = ()
    helo: tuple[Pattern, ...] = ()
    sender: tuple[Pattern, ...] = ()
    recipient: tuple[Pattern, ...] = ()
    recipient_domain: tuple[Pattern, ...] = ()
    message_attempt: AttemptRange | None = None
    pair_attempt: AttemptRange | None = None
    after: float | None = None
    before: float | None = None
    sessions_above: int | None = None
    client_sessions_above: int | None = None
    greylist: float | None = None
    probability: float | None = None


@dataclass(frozen=True)
class Reply:
    """An SMTP reply: code, optional enhanced status code (RFC 3463), one or more text lines.

    `close` hangs up after sending it (what a server does after 421). Text may name `{sender}`,
    `{recipient}`, `{client}` and `{helo}`; they are filled from the session when replying.
    """

    code: int
    enhanced: str | None
    lines: tuple[str, ...]
    close: bool = False

    def render(self, fields: Mapping[str, str]) -> str:
        """The reply as sent on the wire (without the final CRLF), continuation lines joined."""
        texts = [_fill(line, fields) for line in self.lines] or [""]
        prefix = f"{self.code}"
        rendered: list[str] = []
        for position, text in enumerate(texts):
            separator = " " if position == len(texts) - 1 else "-"
            parts = [part for part in (self.enhanced, text) if part]
            rendered.append(f"{prefix}{separator}{' '.join(parts)}".rstrip())
        return "\r\n".join(rendered)


class DropMode(StrEnum):
    """How the receiver drops a connection."""

    BEFORE_REPLY = "before-reply"  #: close instead of replying to the current command
    MID_DATA = "mid-data"  #: after 354, read `after_bytes` bytes of the message, then close
    AFTER_DOT = "after-dot"  #: read the whole message including the final dot, close, no reply


@dataclass(frozen=True)
class Drop:
    mode: DropMode
    after_bytes: int = 0


@dataclass(frozen=True)
class Accept:
    """Behave like a normal server at this stage (the default when no rule matches)."""


Outcome = Reply | Drop | Accept


@dataclass(frozen=True)
class Action:
    """What to do: optionally stall (real seconds; `math.inf` forever), then the outcome."""

    outcome: Outcome
    stall: float = 0.0
    #: eod only: store the message before the stall and the outcome, as a server that has
    #: committed it and is slow to say so, or dies before it does (RFC 1047): a sender that
    #: gives up waiting sends it again, and the receiver then holds a duplicate
    keep_message: bool = False

    @property
    def stalls_forever(self) -> bool:
        return math.isinf(self.stall)


@dataclass(frozen=True)
class Rule:
    index: int  #: position in the plan, starting at 0: journal decisions name it
    name: str
    match: Match
    action: Action
    #: how often the rule must decide something in a conformance case for the case to count:
    #: a fault that never fired measured the default accept, not the fault (0: optional)
    min_fired: int = 1

    def describe(self) -> str:
        """The rule as one phrase for evidence: its name, stage and what it does."""
        stages = "/".join(sorted(stage.value for stage in self.match.stages))
        outcome = self.action.outcome
        if isinstance(outcome, Reply):
            does = f"{outcome.code}{' ' + outcome.enhanced if outcome.enhanced else ''}"
        elif isinstance(outcome, Drop):
            does = f"drop {outcome.mode.value}"
        else:
            does = "accept"
        if self.action.stall:
            stall = "forever" if self.action.stalls_forever else f"{self.action.stall:g}s"
            does = (
                f"stall {stall}, then {does}" if not self.action.stalls_forever else "stall forever"
            )
        return f"rule {self.index + 1} '{self.name}' ({stages}: {does})"


class Capability(StrEnum):
    """An ESMTP extension the receiver can advertise in its EHLO reply (and implements)."""

    PIPELINING = "pipelining"  #: RFC 2920: the client may send commands without waiting
    SIZE = "size"  #: RFC 1870: the size limit, and SIZE= on MAIL
    EIGHTBITMIME = "8bitmime"  #: RFC 6152
    ENHANCEDSTATUSCODES = "enhancedstatuscodes"  #: RFC 2034: x.y.z on every 2xx/4xx/5xx reply
    SMTPUTF8 = "smtputf8"  #: RFC 6531
    CHUNKING = "chunking"  #: RFC 3030: BDAT chunks instead of DATA (`chunking.py`)


#: What the receiver advertises unless a plan switches some off: what a large mailbox
#: provider's MX offers (docs/fidelity.md), CHUNKING included.
DEFAULT_CAPABILITIES = frozenset(Capability)


@dataclass(frozen=True)
class FaultPlan:
    """An ordered list of rules plus the seed for probabilistic ones."""

    rules: tuple[Rule, ...] = ()
    name: str = "accept-all"
    description: str = ""
    seed: int = 0
    source: str = "<inline>"  #: the file it came from, for messages and the journal
    #: the ESMTP extensions the receiver advertises for this plan
    capabilities: frozenset[Capability] = DEFAULT_CAPABILITIES

    def rules_for(self, stage: Stage) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if stage in rule.match.stages)

    def journal_meta(self, time_scale: float) -> dict[str, str]:
        """What a journal records about the plan it was written under (its `meta` table), so
        a journal read later says which plan and clock produced it."""
        return {
            "plan_name": self.name,
            "plan_source": self.source,
            "time_scale": repr(time_scale),
        }


ACCEPT_ALL = FaultPlan()


class _KeepUnknown(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(text: str, fields: Mapping[str, str]) -> str:
    if "{" not in text:
        return text
    return text.format_map(_KeepUnknown(fields))
