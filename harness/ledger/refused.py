"""Attempts the receiver never sees: connections refused, read from the MTA's own log.

When nothing listens the kernel refuses the connection and the receiver's journal stays empty,
so attempt times can only come from the sender. Both drivers already parse their logs into
`LogRecord`s; an attempt is a record of our message (same queue id as the record that names
its envelope sender in `from`) that says the connection was refused:

- Postfix: the per-recipient `status=deferred (connect to [ip]:port: Connection refused)`.
  `delivery temporarily suspended: ...` is Postfix skipping a destination it marked dead,
  without connecting: not an attempt.
- Exim: the host error `H=name [ip]:port Connection refused` (process `H`), once per connection;
  the `==` defer line of the same attempt repeats it and is not counted again, and `retry time
  not reached` lines are skipped attempts.
- Any other sender: its driver marks the record `attempt=refused` (REFUSED_FIELD), as the
  no-queue sender's program logs it.

A message can also meet an outage without connecting: the sender already holds the host as
down from the refusals of other messages and defers it unseen. `held_by_refusals` finds those
deferrals (Exim's `retry time not reached`, Postfix's `delivery temporarily suspended: ...
Connection refused`); the proof of exercise counts them, the attempt times do not.

Log stamps have whole seconds, so each time is taken at the middle of its second; at k = 1440 a
second is 24 real minutes, which the agreement's tolerance must absorb.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.results import Attempt
from harness.targets import HELD_FIELD, REFUSED_FIELD, LogRecord, queue_ids_of

REFUSED = "Connection refused"


def is_refused_attempt(record: LogRecord) -> bool:
    """A log record of one connection attempt that was refused (Postfix, Exim, or a record
    marked with REFUSED_FIELD)."""
    key, value = REFUSED_FIELD
    if record.fields.get(key) == value:
        return True
    if REFUSED not in record.text:
        return False
    if record.process == "H":  # Exim's host error line; its `==` defer line repeats it
        return True
    return (
        record.process.startswith("postfix/")
        and record.fields.get("status") == "deferred"
        and "suspended" not in record.text
    )


#: Exim's deferral of an address whose hosts all have retry records not yet due (a routing
#: retry, `routing defer (-52): retry time not reached`, is not about the host).
RETRY_TIME_NOT_REACHED_FOR_HOSTS = "retry time not reached for any host"


def is_held_by_refusals(record: LogRecord) -> bool:
    """A deferral without a connection because the sender holds the host as down (Exim's
    host retry record, Postfix's dead destination after refused connections, a record a
    driver marked with HELD_FIELD)."""
    key, value = HELD_FIELD
    if record.fields.get(key) == value:
        return True
    if record.fields.get("status") != "deferred":
        return False
    if record.process == "==":  # Exim: only a host record makes this skip, never a reply
        return record.fields.get("reason", "").startswith(RETRY_TIME_NOT_REACHED_FOR_HOSTS)
    return (
        record.process.startswith("postfix/")
        and "suspended" in record.text
        and REFUSED in record.text
    )


def held_by_refusals(logs: Sequence[LogRecord], *, sender: str) -> bool:
    """Whether the sender deferred the message with envelope `sender` unseen, holding its host
    as down (see `is_held_by_refusals`)."""
    queue_ids = queue_ids_of(logs, sender)
    return any(r.queue_id in queue_ids and is_held_by_refusals(r) for r in logs)


def refused_attempts(
    logs: Sequence[LogRecord],
    *,
    sender: str,
    message_id: str,
    start_wall: float,
    time_scale: float,
    stamp_resolution: float = 1.0,
) -> tuple[Attempt, ...]:
    """The refused connections for the message with envelope `sender`, as attempts in real
    seconds since `start_wall` (the submission's wall time).

    `stamp_resolution` is how much wall time one tick of the log's stamps is: a second, or
    1/k of one when the MTA ran on a clock warped by k (its stamps converted to wall time).
    """
    queue_ids = queue_ids_of(logs, sender)
    times = sorted(
        max(0.0, (r.time.timestamp() + stamp_resolution / 2 - start_wall) * time_scale)
        for r in logs
        if r.queue_id in queue_ids and r.time is not None and is_refused_attempt(r)
    )
    return tuple(
        Attempt(t=t, stage="connect", reply=None, message_id=message_id, listener="refused")
        for t in times
    )
