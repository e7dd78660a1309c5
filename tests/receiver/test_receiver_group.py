"""Several receiver processes on one port (SO_REUSEPORT), read back as one journal.

Real processes, real sockets, real SMTP sessions from many loopback client addresses.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.errors import JournalError, ListenError, ReceiverError
from harness.receiver import Journal, JournalWriter, ListenSpec, Stage, parse_plan
from harness.receiver.journal_merge import merge_journals
from harness.receiver.process_group import ReceiverGroup
from harness.receiver.reuseport import GroupMembership
from harness.receiver.server import ReceiverCore
from tests.smtp_probe import Probe

LOOPBACK = [ListenSpec("127.0.0.1", 0)]
CLIENTS = [f"127.0.0.{last}" for last in range(2, 10)]


def deliver(host: str, port: int, source: str) -> str:
    """Send one whole message from `source`; its harness message id."""
    with Probe(host, port, source=source) as probe:
        assert probe.until(Stage.QUIT).code == 221
        return probe.message_id


def test_clients_stay_on_one_process_and_the_merge_holds_every_message_once(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.sqlite"
    sent: list[str] = []
    with ReceiverGroup(LOOPBACK, journal, 2) as group:
        listener = group.listeners[0]
        for _ in range(3):
            sent += [deliver(listener.host, listener.port, client) for client in CLIENTS]
        merged = group.finish()

    assert merged.messages == len(sent) == merged.sessions
    with Journal(journal) as whole:
        got = Counter(message.message_id for message in whole.messages())
        assert whole.meta["processes"] == "2"
        sessions = whole.sessions()
    assert got == Counter(sent)  # nothing lost, nothing doubled
    assert [s.id for s in sessions] == list(range(1, len(sent) + 1))
    assert [s.mono for s in sessions] == sorted(s.mono for s in sessions)
    processes_of: dict[str, set[int]] = {}
    for number, part in enumerate(group.parts):
        with Journal(part) as one:
            for session in one.sessions():
                processes_of.setdefault(session.client, set()).add(number)
    assert sorted(processes_of) == CLIENTS
    assert all(len(numbers) == 1 for numbers in processes_of.values()), processes_of
    assert {n for numbers in processes_of.values() for n in numbers} == {0, 1}


def test_a_per_client_limit_holds_across_processes(tmp_path: Path) -> None:
    """Without steering by address, the sessions of 127.0.0.2 would spread over both processes
    and each would see fewer than the limit."""
    scenario = tmp_path / "per-ip.toml"
    scenario.write_text(
        '[[rule]]\nstage = "greeting"\nclient_sessions_above = 2\nreply = "421 4.7.0 too many"\n'
    )
    with ReceiverGroup(LOOPBACK, tmp_path / "j.sqlite", 2, scenario=scenario) as group:
        listener = group.listeners[0]
        for client in ("127.0.0.2", "127.0.0.3"):
            held = [Probe(listener.host, listener.port, source=client) for _ in range(2)]
            try:
                assert [probe.step(Stage.GREETING).code for probe in held] == [220, 220]
                for _ in range(4):
                    with Probe(listener.host, listener.port, source=client) as third:
                        assert third.step(Stage.GREETING).code == 421
            finally:
                for probe in held:
                    probe.close()
        group.finish()


def test_connection_balance_spreads_one_client_over_the_processes(tmp_path: Path) -> None:
    with ReceiverGroup(LOOPBACK, tmp_path / "j.sqlite", 2, balance="connection") as group:
        listener = group.listeners[0]
        for _ in range(40):
            deliver(listener.host, listener.port, "127.0.0.1")
        merged = group.finish()
    assert merged.messages == 40
    assert all(part.sessions > 0 for part in merged.parts), merged.summary()


def test_a_plan_whose_state_the_processes_would_split_is_refused(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path / "j.sqlite")
    try:
        global_limit = parse_plan('[[rule]]\nstage = "greeting"\nsessions_above = 3\nreply = "421"')
        with pytest.raises(ListenError, match="sessions_above"):
            ReceiverCore(global_limit, writer, group=GroupMembership(0, 2))
        attempts = parse_plan('[[rule]]\nstage = "rcpt"\nmessage_attempt = 1\nreply = "451"')
        ReceiverCore(attempts, writer, group=GroupMembership(0, 2, "client"))
        with pytest.raises(ListenError, match="message_attempt"):
            ReceiverCore(attempts, writer, group=GroupMembership(0, 2, "connection"))
    finally:
        writer.close()


def test_a_process_that_dies_is_reported(tmp_path: Path) -> None:
    with ReceiverGroup(LOOPBACK, tmp_path / "j.sqlite", 2) as group:
        group.check_alive()
        group._members[1].kill()
        group._members[1].wait()
        with pytest.raises(ReceiverError, match="process 1 of 2 exited"):
            group.check_alive()
    assert not (tmp_path / "j.sqlite").exists()


def test_an_existing_journal_is_kept(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    journal.write_bytes(b"precious")
    with pytest.raises(JournalError, match="already exists"), ReceiverGroup(LOOPBACK, journal, 2):
        pass
    assert journal.read_bytes() == b"precious"


def test_merge_interleaves_by_the_shared_clock_and_refuses_a_broken_part(
    tmp_path: Path,
) -> None:
    parts = [tmp_path / "p0.sqlite", tmp_path / "p1.sqlite"]
    writers = [JournalWriter(path, meta={"plan_name": "x"}) for path in parts]
    try:
        order = [0, 1, 1, 0, 1]
        for number in order:
            session = writers[number].record_session("primary", "127.0.0.1:25", f"c{number}")
            writers[number].record_event(session, "decision", "accept", stage="rcpt")
            writers[number].record_message(
                session,
                message_id=f"m{number}-{session}",
                mail_from="a@b.test",
                rcpt_tos=["c@d.test"],
                dsn_for=None,
                content=b"x",
            )
    finally:
        for writer in writers:
            writer.close()
    merged = merge_journals(parts, tmp_path / "all.sqlite")
    with Journal(merged.path) as whole:
        sessions = whole.sessions()
        messages = whole.messages()
        events = whole.events()
    assert [s.client for s in sessions] == [f"c{number}" for number in order]
    assert [m.message_id for m in messages] == ["m0-1", "m1-1", "m1-2", "m0-2", "m1-3"]
    assert [m.session_id for m in messages] == [1, 2, 3, 4, 5]
    assert [e.session_id for e in events] == [1, 2, 3, 4, 5]

    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a journal at all")
    with pytest.raises(JournalError, match=r"broken\.sqlite"):
        merge_journals([parts[0], broken], tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


def test_mailstorm_receiver_processes_merges_on_sigint(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    command = [sys.executable, "-m", "harness", "receiver", "--listen", "127.0.0.1:0"]
    command += ["--journal", str(journal), "--processes", "2"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as cli:
        assert cli.stdout is not None
        lines = [cli.stdout.readline(), cli.stdout.readline()]
        assert "2 processes (client balance)" in lines[0], lines
        host, port = lines[1].split("=", 1)[1].strip().rsplit(":", 1)
        sent = {deliver(host, int(port), client) for client in CLIENTS}
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert "merged 2 journals" in out
    assert f"{len(sent)} messages" in out
    with Journal(journal) as whole:
        assert {message.message_id for message in whole.messages()} == sent
