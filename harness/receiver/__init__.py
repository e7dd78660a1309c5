"""The controllable SMTP receiver: fault plans, the server, and its journal."""

from harness.receiver.decider import Decider, Decision, Facts
from harness.receiver.journal import (
    CLOSED_AFTER_REPLY,
    GAVE_UP_DURING_STALL,
    HALF_CLOSED,
    EventRecord,
    Journal,
    MessageRecord,
    SessionRecord,
)
from harness.receiver.journal_writer import JournalWriter
from harness.receiver.listeners import BoundListener, ListenSpec
from harness.receiver.plan import (
    ACCEPT_ALL,
    Accept,
    Action,
    AttemptRange,
    Drop,
    DropMode,
    FaultPlan,
    Match,
    Pattern,
    Reply,
    Rule,
    Stage,
)
from harness.receiver.plan_loader import load_plan, parse_plan, plan_from_mapping
from harness.receiver.server import Receiver, ReceiverCore, serve

__all__ = [
    "ACCEPT_ALL",
    "CLOSED_AFTER_REPLY",
    "GAVE_UP_DURING_STALL",
    "HALF_CLOSED",
    "Accept",
    "Action",
    "AttemptRange",
    "BoundListener",
    "Decider",
    "Decision",
    "Drop",
    "DropMode",
    "EventRecord",
    "Facts",
    "FaultPlan",
    "Journal",
    "JournalWriter",
    "ListenSpec",
    "Match",
    "MessageRecord",
    "Pattern",
    "Receiver",
    "ReceiverCore",
    "Reply",
    "Rule",
    "SessionRecord",
    "Stage",
    "load_plan",
    "parse_plan",
    "plan_from_mapping",
    "serve",
]
