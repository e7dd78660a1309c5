"""smtp-source against smtp-sink and against our receiver: real processes, real sockets."""

from __future__ import annotations

from pathlib import Path

from harness.bench import (
    BenchConfig,
    PostfixTools,
    ReceiverProcess,
    SmtpSink,
    run_smtp_source,
    verify_journal,
)
from harness.bench.servers import RECIPIENT, SENDER
from harness.receiver import Journal, Receiver


def test_smtp_source_delivers_to_the_receiver(postfix_tools: PostfixTools, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    with Receiver(journal=journal) as receiver:
        run_smtp_source(
            postfix_tools,
            receiver.host,
            receiver.port,
            messages=50,
            sessions=5,
            size=1024,
            timeout=60,
        )
    verify_journal(journal, BenchConfig(messages=50, sessions=5, size=1024))
    with Journal(journal) as read:
        messages = read.messages()
    assert {message.mail_from for message in messages} == {SENDER}
    assert {message.rcpt_tos for message in messages} == {(RECIPIENT,)}


def test_smtp_sink_counts_what_it_received(postfix_tools: PostfixTools) -> None:
    with SmtpSink(postfix_tools) as sink:
        assert sink.port > 0
        run_smtp_source(
            postfix_tools, sink.host, sink.port, messages=30, sessions=3, size=100, timeout=60
        )
        assert sink.wait_for_messages(30) == 30


def test_receiver_process_serves_and_stops_cleanly(
    postfix_tools: PostfixTools, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    with ReceiverProcess(journal) as receiver:
        run_smtp_source(
            postfix_tools,
            receiver.host,
            receiver.port,
            messages=20,
            sessions=4,
            size=512,
            timeout=60,
        )
        pid = receiver.pid
    verify_journal(journal, BenchConfig(messages=20, sessions=4, size=512))
    assert not Path(f"/proc/{pid}").exists()
