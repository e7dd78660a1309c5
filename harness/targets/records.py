"""What a target reports about itself: its queue and its log, as typed records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class QueuedRecipient:
    address: str
    reason: str = ""  #: why it is still queued (the last error), when the MTA says


@dataclass(frozen=True)
class QueuedMessage:
    """A message the MTA still holds."""

    queue_id: str
    sender: str
    recipients: tuple[QueuedRecipient, ...]
    status: str  #: the MTA's word: deferred, active, incoming, frozen, ...
    arrival: datetime | None
    next_attempt: datetime | None  #: when the MTA will try again, when it can be told
    message_id: str | None = None  #: the harness id, from the envelope sender


#: The field a driver sets on its record of a refused connection attempt (`attempt=refused`),
#: when its MTA's wording is not one the ledger reads itself (harness/ledger/refused.py).
REFUSED_FIELD = ("attempt", "refused")
#: The field a driver sets on a deferral made without connecting because the MTA holds the
#: destination as down after refusals (`attempt=held`; harness/ledger/refused.py).
HELD_FIELD = ("attempt", "held")
#: The field a driver sets on the record of its MTA's decision to try a message now (Haraka's
#: `get_mx` hook), when its wording is not one the ledger reads itself (Postfix's `(queue
#: active)`): the start of an attempt's wall cost under a clock warp (harness/ledger).
DECISION_FIELD = ("decision", "try")


@dataclass(frozen=True)
class LogRecord:
    """One line of the MTA's log, with the fields the harness joins on."""

    time: datetime | None
    process: str
    queue_id: str | None
    text: str
    fields: dict[str, str] = field(default_factory=dict)  #: to=, relay=, status=, dsn=, ...
    raw: str = ""


def queue_ids_of(logs: Iterable[LogRecord], sender: str) -> set[str]:
    """The MTA's queue ids of the message with envelope `sender`: every record that names it
    in `from` (Postfix's qmgr line, Exim's `<=` line) carries its queue id, and the message's
    other lines carry only that id."""
    return {r.queue_id for r in logs if r.queue_id and r.fields.get("from") == sender}
