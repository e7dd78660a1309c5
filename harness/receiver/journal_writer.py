"""The receiver's durable journal, written by one background thread in batched transactions.

Why a thread and group commit: the receiver must not acknowledge a message (250 after the dot)
before the message is on disk, or a receiver killed with SIGKILL could have said "accepted" for
mail it no longer has, and every fate built on the journal would be wrong. Committing once per
event would cap throughput; so events queue up, the writer commits whatever has queued in one
transaction, and only then resolves the futures the SMTP sessions wait on before replying.
SQLite in WAL mode with synchronous=NORMAL keeps every committed transaction across a crash of
the process (not across a power cut, which no test here needs).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from harness.errors import JournalError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY, listener TEXT NOT NULL, listen_address TEXT NOT NULL,
    client TEXT NOT NULL, wall REAL NOT NULL, mono REAL NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, wall REAL NOT NULL, mono REAL NOT NULL,
    kind TEXT NOT NULL, stage TEXT, text TEXT NOT NULL, rule INTEGER, message_id TEXT);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, wall REAL NOT NULL, mono REAL NOT NULL,
    message_id TEXT, mail_from TEXT NOT NULL, rcpt_tos TEXT NOT NULL, is_dsn INTEGER NOT NULL,
    dsn_for TEXT, size INTEGER NOT NULL, content BLOB NOT NULL);
CREATE INDEX events_session ON events (session_id);
CREATE INDEX events_message ON events (message_id);
CREATE INDEX messages_message ON messages (message_id);
"""

_INSERT = {
    "session": "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
    "event": "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "message": "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}
_BATCH = 2000


class JournalWriter:
    """Appends sessions, events and messages to a new journal file from any thread.

    Ids are handed out at once by the caller's thread, so recording never waits for disk;
    `record_message` and `barrier` return futures that resolve once the row is committed.
    """

    def __init__(
        self, path: str | Path, *, meta: Mapping[str, str] = {}, overwrite: bool = False
    ) -> None:
        self.path = Path(path)
        _prepare_file(self.path, overwrite)
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._ids = {"session": 0, "event": 0, "message": 0}
        self._ids_lock = threading.Lock()
        self._failure: BaseException | None = None
        self._closed = False
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(dict(meta), ready), name="mailstorm-journal", daemon=True
        )
        self._thread.start()
        ready.result()

    def _next_id(self, table: str) -> int:
        with self._ids_lock:
            self._ids[table] += 1
            return self._ids[table]

    def _put(self, item: tuple[str, Any]) -> None:
        if self._failure is not None:
            raise JournalError(f"{self.path}: journal writer failed: {self._failure}")
        self._queue.put(item)

    def record_session(self, listener: str, listen_address: str, client: str) -> int:
        session_id = self._next_id("session")
        row = (session_id, listener, listen_address, client, time.time(), time.monotonic())
        self._put(("session", row))
        return session_id

    def record_event(
        self,
        session_id: int,
        kind: str,
        text: str,
        *,
        stage: str | None = None,
        rule: int | None = None,
        message_id: str | None = None,
    ) -> None:
        row = (
            self._next_id("event"),
            session_id,
            time.time(),
            time.monotonic(),
            kind,
            stage,
            text,
            rule,
            message_id,
        )
        self._put(("event", row))

    def record_message(
        self,
        session_id: int,
        *,
        message_id: str | None,
        mail_from: str,
        rcpt_tos: Sequence[str],
        dsn_for: str | None,
        content: bytes,
    ) -> tuple[int, Future[None]]:
        """Queue an accepted message; the future resolves when it is durable."""
        number = self._next_id("message")
        row = (
            number,
            session_id,
            time.time(),
            time.monotonic(),
            message_id,
            mail_from,
            json.dumps(list(rcpt_tos)),
            int(mail_from == ""),
            dsn_for,
            len(content),
            content,
        )
        self._put(("message", row))
        return number, self.barrier()

    def barrier(self) -> Future[None]:
        """A future that resolves once everything recorded before it is committed."""
        done: Future[None] = Future()
        self._put(("barrier", done))
        return done

    def flush(self, timeout: float = 30.0) -> None:
        """Block until everything recorded so far is committed."""
        self.barrier().result(timeout)

    def close(self) -> None:
        """Commit what is queued and stop the writer thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(("stop", None))
        self._thread.join()
        if self._failure is not None:
            raise JournalError(f"{self.path}: journal writer failed: {self._failure}")

    def _run(self, meta: dict[str, str], ready: Future[None]) -> None:
        try:
            connection = _create(self.path, meta)
        except (sqlite3.Error, OSError) as error:
            ready.set_exception(JournalError(f"{self.path}: cannot create journal: {error}"))
            return
        ready.set_result(None)
        try:
            while self._write_batch(connection):
                pass
        except BaseException as error:  # the thread must report, never die silently
            self._failure = error
            self._fail_waiters(error)
        finally:
            connection.close()

    def _write_batch(self, connection: sqlite3.Connection) -> bool:
        batch = [self._queue.get()]
        while len(batch) < _BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        rows: dict[str, list[Any]] = {"session": [], "event": [], "message": []}
        waiters: list[Future[None]] = []
        keep_running = True
        for kind, payload in batch:
            if kind == "barrier":
                waiters.append(payload)
            elif kind == "stop":
                keep_running = False
            else:
                rows[kind].append(payload)
        with connection:
            for table, table_rows in rows.items():
                if table_rows:
                    connection.executemany(_INSERT[table], table_rows)
        for waiter in waiters:
            _resolve(waiter)
        return keep_running

    def _fail_waiters(self, error: BaseException) -> None:
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "barrier":
                _resolve(payload, JournalError(f"journal writer failed: {error}"))


def _resolve(waiter: Future[None], error: BaseException | None = None) -> None:
    """Resolve a barrier, unless its waiter gave up: a session cancelled while it waited for its
    message to be committed (the client hung up, the receiver stopped) cancels the future it
    waited on, and resolving that would raise here and kill the writer for every session."""
    if not waiter.set_running_or_notify_cancel():
        return  # cancelled: nobody is waiting any more
    if error is None:
        waiter.set_result(None)
    else:
        waiter.set_exception(error)


def create_journal_file(
    path: Path, meta: Mapping[str, str], *, overwrite: bool = False
) -> sqlite3.Connection:
    """A new, empty journal at `path` with `meta`, open for writing (the caller closes it)."""
    _prepare_file(path, overwrite)
    try:
        return _create(path, meta)
    except (sqlite3.Error, OSError) as error:
        raise JournalError(f"{path}: cannot create journal: {error}") from None


def _prepare_file(path: Path, overwrite: bool) -> None:
    if path.exists() and path.stat().st_size > 0:
        if not overwrite:
            raise JournalError(
                f"{path}: a journal already exists there; choose another path or overwrite it"
            )
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    if not path.parent.is_dir():
        raise JournalError(f"{path}: directory {path.parent} does not exist")


def _create(path: Path, meta: Mapping[str, str]) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(_SCHEMA)
    connection.isolation_level = "DEFERRED"
    entries = {"schema_version": str(SCHEMA_VERSION), **meta}
    with connection:
        connection.executemany("INSERT INTO meta VALUES (?, ?)", entries.items())
    return connection
