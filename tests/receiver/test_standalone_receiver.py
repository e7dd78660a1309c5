"""`mailstorm receiver` as a separate process: signals, durability under SIGKILL, clear errors."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import Journal, new_message_id, sender_address
from tests.smtp_probe import message

PLAN = """
name = "standalone"
[[rule]]
stage = "rcpt"
recipient = "deferred@r.test"
reply = "451 4.3.0 try later"
"""


def mailstorm(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "harness", *arguments]


@contextmanager
def running_receiver(tmp_path: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Start `mailstorm receiver` on an ephemeral port and read the port it printed."""
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    process = subprocess.Popen(
        mailstorm(
            "receiver",
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            str(plan),
            "--journal",
            str(tmp_path / "journal.sqlite"),
            *extra,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # ends if the process dies before it is ready
            if line.startswith("listening "):
                yield process, int(line.rsplit(":", 1)[1])
                return
        pytest.fail(f"receiver exited before listening: {process.communicate()}")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def deliver(port: int, count: int) -> list[str]:
    """Send `count` messages, each acknowledged with 250 before the next; their ids."""
    ids = []
    for _ in range(count):
        message_id = new_message_id()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            refused = client.sendmail(
                sender_address(message_id, "bounces.test"), ["user@r.test"], message(message_id)
            )
            assert refused == {}
        ids.append(message_id)
    return ids


def test_sigkill_leaves_every_acknowledged_message_in_the_journal(tmp_path: Path) -> None:
    with running_receiver(tmp_path) as (process, port):
        acknowledged = deliver(port, 40)
        half_open = socket.create_connection(("127.0.0.1", port))  # a session in progress
        half_open.recv(1024)
        half_open.sendall(b"EHLO client.test\r\n")
        half_open.recv(1024)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        half_open.close()
    with Journal(tmp_path / "journal.sqlite") as journal:
        stored = {record.message_id or "": record for record in journal.messages()}
        assert sorted(stored) == sorted(acknowledged)
        for message_id in acknowledged:
            assert stored[message_id].content == message(message_id)
        # The sessions of acknowledged messages are durable too; the half-open one may not be.
        assert len(journal.sessions()) in (40, 41)
        assert journal.meta["plan_name"] == "standalone"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal_and_flushes(tmp_path: Path, signum: int) -> None:
    with running_receiver(tmp_path) as (process, port):
        acknowledged = deliver(port, 3)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("client.test")
            client.mail("s@c.test")
            assert client.rcpt("deferred@r.test")[0] == 451
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "stopped after" in out
    with Journal(tmp_path / "journal.sqlite") as journal:
        assert sorted(m.message_id or "" for m in journal.messages()) == sorted(acknowledged)
        [decision] = journal.decisions()
        assert decision.stage == "rcpt"
        assert decision.rule == 0
        disconnects = journal.events(kind="disconnect")
        assert len(disconnects) == len(journal.sessions()) == 4


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(mailstorm(*arguments), capture_output=True, text=True, timeout=30)


def assert_clear_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mailstorm: error: ")
    for fragment in fragments:
        assert fragment in result.stderr


def test_malformed_scenario_is_named_with_line_and_key(tmp_path: Path) -> None:
    plan = tmp_path / "broken.toml"
    plan.write_text(
        'name = "x"\n\n[[rule]]\nstage = "rcpt"\nreply = "451 ok"\n\n[[rule]]\nstage = "rpct"\n'
    )
    result = run_cli("receiver", "--scenario", str(plan), "--journal", str(tmp_path / "j.sqlite"))
    assert_clear_error(result, str(plan), "rule 2 (line 7)", "'stage'", "unknown stage 'rpct'")
    assert not (tmp_path / "j.sqlite").exists()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "receiver", "--listen", f"127.0.0.1:{port}", "--journal", str(tmp_path / "j.sqlite")
        )
    assert_clear_error(result, f"127.0.0.1:{port}", "already in use")


def test_existing_journal_is_never_overwritten_silently(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    journal.write_bytes(b"precious")
    result = run_cli("receiver", "--listen", "127.0.0.1:0", "--journal", str(journal))
    assert_clear_error(result, str(journal), "already exists")
    assert journal.read_bytes() == b"precious"


@pytest.mark.parametrize("listen", ["localhost", "127.0.0.1:99999", "a b:25"])
def test_bad_listen_address_is_a_clear_error(tmp_path: Path, listen: str) -> None:
    result = run_cli("receiver", "--listen", listen, "--journal", str(tmp_path / "j.sqlite"))
    assert_clear_error(result, repr(listen))


def test_missing_scenario_file(tmp_path: Path) -> None:
    result = run_cli(
        "receiver", "--scenario", str(tmp_path / "nope.toml"), "--journal", str(tmp_path / "j")
    )
    assert_clear_error(result, "nope.toml", "no such plan file")
