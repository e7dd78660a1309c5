"""One journal from the journals of several receiver processes, with nothing lost or doubled.

Each process of a receiver group (`harness.receiver.reuseport`) writes a journal of its own, so
no process waits on another's commits. Everything downstream (fates, checks, the herd's summary)
reads one journal, so the group merges them when it stops. Ids are renumbered in the order things
happened: `mono` is CLOCK_MONOTONIC, one clock for every process on the machine, so sorting by it
interleaves the parts truthfully (ties broken by part, then by the part's own id). Events and
messages keep their session through the renumbering.

The merge proves itself: every table of the result must hold exactly the sum of the parts' rows,
and every event and message must still belong to a session; otherwise the result is deleted and
the parts are left as they were.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import JournalError
from harness.receiver.journal import Journal
from harness.receiver.journal_writer import create_journal_file

_TABLES = ("sessions", "events", "messages")

_COPY = {
    "sessions": """
        INSERT INTO main.sessions
        SELECT m.new_id, s.listener, s.listen_address, s.client, s.wall, s.mono
        FROM part.sessions s JOIN temp.map_sessions m ON m.part = :part AND m.id = s.id""",
    "events": """
        INSERT INTO main.events
        SELECT m.new_id, ms.new_id, e.wall, e.mono, e.kind, e.stage, e.text, e.rule, e.message_id
        FROM part.events e
        JOIN temp.map_events m ON m.part = :part AND m.id = e.id
        JOIN temp.map_sessions ms ON ms.part = :part AND ms.id = e.session_id""",
    "messages": """
        INSERT INTO main.messages
        SELECT m.new_id, ms.new_id, g.wall, g.mono, g.message_id, g.mail_from, g.rcpt_tos,
               g.is_dsn, g.dsn_for, g.size, g.content
        FROM part.messages g
        JOIN temp.map_messages m ON m.part = :part AND m.id = g.id
        JOIN temp.map_sessions ms ON ms.part = :part AND ms.id = g.session_id""",
}


@dataclass(frozen=True)
class PartCounts:
    """What one process's journal held."""

    path: Path
    sessions: int
    events: int
    messages: int


@dataclass(frozen=True)
class JournalMerge:
    """A finished merge: the merged journal and what each part contributed."""

    path: Path
    parts: tuple[PartCounts, ...]

    @property
    def sessions(self) -> int:
        return sum(part.sessions for part in self.parts)

    @property
    def messages(self) -> int:
        return sum(part.messages for part in self.parts)

    def summary(self) -> str:
        """One line: the totals, then each part's share of the sessions."""
        shares = ", ".join(f"{part.sessions}" for part in self.parts)
        return (
            f"merged {len(self.parts)} journals into {self.path}: {self.sessions} sessions "
            f"({shares} per process), {self.messages} messages"
        )


def merge_journals(
    parts: Sequence[Path], into: Path, *, meta: Mapping[str, str] = {}, overwrite: bool = False
) -> JournalMerge:
    """Merge the journals `parts` into a new journal `into`; `meta` adds to the first part's."""
    if not parts:
        raise JournalError(f"{into}: no journals to merge")
    counts = tuple(_count(path) for path in parts)
    with Journal(parts[0]) as first:
        merged_meta = {
            key: value for key, value in first.meta.items() if key != "schema_version"
        } | dict(meta)
    connection = create_journal_file(into, merged_meta, overwrite=overwrite)
    try:
        connection.isolation_level = None  # ATTACH cannot run inside a transaction
        _number(connection, parts)
        for number, path in enumerate(parts):
            _copy(connection, number, path)
        _verify(connection, counts)
    except BaseException:
        connection.close()
        for leftover in (into, Path(f"{into}-wal"), Path(f"{into}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    connection.close()
    return JournalMerge(path=into, parts=counts)


def _count(path: Path) -> PartCounts:
    with Journal(path) as journal:
        rows = journal.row_counts()
    return PartCounts(path, rows["sessions"], rows["events"], rows["messages"])


def _number(connection: sqlite3.Connection, parts: Sequence[Path]) -> None:
    """Give every row of every part its new id, in the order of the shared monotonic clock."""
    for table in _TABLES:
        connection.execute(f"CREATE TEMP TABLE order_{table} (part INT, id INT, mono REAL)")
    for number, path in enumerate(parts):
        _attach(connection, path)
        try:
            for table in _TABLES:
                connection.execute(
                    f"INSERT INTO temp.order_{table} SELECT ?, id, mono FROM part.{table}",
                    (number,),
                )
        finally:
            connection.execute("DETACH DATABASE part")
    for table in _TABLES:
        connection.execute(
            f"CREATE TEMP TABLE map_{table} AS SELECT part, id, "
            f"row_number() OVER (ORDER BY mono, part, id) AS new_id FROM temp.order_{table}"
        )
        connection.execute(f"CREATE UNIQUE INDEX temp.map_{table}_key ON map_{table} (part, id)")


def _copy(connection: sqlite3.Connection, number: int, path: Path) -> None:
    _attach(connection, path)
    try:
        connection.execute("BEGIN")
        for table in _TABLES:
            connection.execute(_COPY[table], {"part": number})
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.execute("DETACH DATABASE part")


def _attach(connection: sqlite3.Connection, path: Path) -> None:
    try:
        connection.execute("ATTACH DATABASE ? AS part", (str(path),))
    except sqlite3.Error as error:
        raise JournalError(f"{path}: cannot read this journal to merge it: {error}") from None


def _verify(connection: sqlite3.Connection, counts: Sequence[PartCounts]) -> None:
    problems: list[str] = []
    for table in _TABLES:
        merged = connection.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0]
        expected = sum(getattr(part, table) for part in counts)
        if merged != expected:
            problems.append(f"{table}: {merged} merged, the parts hold {expected}")
    for table in ("events", "messages"):
        orphans = connection.execute(
            f"SELECT count(*) FROM main.{table} WHERE session_id NOT IN "
            "(SELECT id FROM main.sessions)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} {table} of no session")
    if problems:
        raise JournalError(f"the merged journal is not the sum of its parts: {'; '.join(problems)}")
