"""Reading a receiver journal: typed records of sessions, events and accepted messages.

The journal is the receiver's evidence: every connection, command, reply, rule decision and
accepted message, with wall-clock and monotonic times. Readers open it while the receiver still
writes (WAL mode allows that) or after the receiver died; they never write.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from harness.errors import JournalError
from harness.receiver.journal_writer import SCHEMA_VERSION

#: The text of the drop event that follows a reply which closes the connection (a 421): the
#: client got that reply, so it is the session's last reply, not a hang-up without one.
CLOSED_AFTER_REPLY = "closed after reply"


#: The texts of the eof event (the client closed its sending side): while a stall kept it
#: waiting (it stopped waiting: how long it waited ends here), or otherwise (it may still read
#: the replies to what it sent, as Exim does after pipelining QUIT).
GAVE_UP_DURING_STALL = "the client closed its side during a stall: it stopped waiting"
HALF_CLOSED = "the client closed its sending side"


@dataclass(frozen=True)
class SessionRecord:
    id: int
    listener: str
    listen_address: str
    client: str
    wall: float
    mono: float


@dataclass(frozen=True)
class EventRecord:
    """One thing that happened in a session.

    `kind` is one of connect, command, reply, decision, drop, eof (the client closed its
    sending side), disconnect, error; for a decision,
    `rule` is the index of the rule that fired (None: the default accept) and `text` says why.
    """

    id: int
    session_id: int
    wall: float
    mono: float
    kind: str
    stage: str | None
    text: str
    rule: int | None
    message_id: str | None


@dataclass(frozen=True)
class MessageRecord:
    """A message the receiver acknowledged, stored whole; `is_dsn` when the sender was null."""

    id: int
    session_id: int
    wall: float
    mono: float
    message_id: str | None
    mail_from: str
    rcpt_tos: tuple[str, ...]
    is_dsn: bool
    dsn_for: str | None
    size: int
    content: bytes


class Journal:
    """A read-only view of one journal file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise JournalError(f"{self.path}: no such journal")
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError as error:
            raise JournalError(f"{self.path}: not a mailstorm journal ({error})") from None
        self.meta: dict[str, str] = dict(rows)
        version = self.meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise JournalError(
                f"{self.path}: journal schema {version}, this mailstorm reads {SCHEMA_VERSION}"
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    def row_counts(self) -> dict[str, int]:
        """How many sessions, events and messages the journal holds."""
        return {
            table: int(self._rows(f"SELECT count(*) FROM {table}")[0][0])
            for table in ("sessions", "events", "messages")
        }

    def sessions(self) -> list[SessionRecord]:
        return [SessionRecord(*row) for row in self._rows("SELECT * FROM sessions ORDER BY id")]

    def events(
        self,
        *,
        kind: str | None = None,
        session_id: int | None = None,
        message_id: str | None = None,
    ) -> list[EventRecord]:
        """Events in the order they happened, optionally filtered."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("kind", kind),
            ("session_id", session_id),
            ("message_id", message_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM events {where} ORDER BY id"
        return [EventRecord(*row) for row in self._rows(sql, tuple(params))]

    def decisions(self, *, session_id: int | None = None) -> list[EventRecord]:
        return self.events(kind="decision", session_id=session_id)

    def rule_firings(self) -> dict[int, int]:
        """How often each rule of the plan decided something, by rule index (absent: never).

        The proof that a fault was exercised: a scenario whose rule never fired measured the
        MTA against the default accept, not against the fault it names.
        """
        rows = self._rows(
            "SELECT rule, COUNT(*) FROM events WHERE kind = 'decision' AND rule IS NOT NULL "
            "GROUP BY rule ORDER BY rule"
        )
        return {int(rule): int(count) for rule, count in rows}

    def messages(self, *, message_id: str | None = None) -> list[MessageRecord]:
        sql = "SELECT * FROM messages"
        params: tuple[Any, ...] = ()
        if message_id is not None:
            sql += " WHERE message_id = ? OR dsn_for = ?"
            params = (message_id, message_id)
        return [_message(row) for row in self._rows(sql + " ORDER BY id", params)]

    def dsns(self) -> list[MessageRecord]:
        return [message for message in self.messages() if message.is_dsn]


def _message(row: tuple[Any, ...]) -> MessageRecord:
    fields = list(row)
    fields[6] = tuple(json.loads(fields[6]))
    fields[7] = bool(fields[7])
    fields[10] = bytes(fields[10])
    return MessageRecord(*fields)
