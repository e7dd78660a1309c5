"""Benchmarks: how fast mailstorm's own parts are, measured against a reference on this machine.

`receiver_bench` compares the receiver with Postfix's `smtp-sink` under `smtp-source` load;
`postfix_tools` finds (or fetches) those two programs; `servers` runs the processes involved.
"""

from harness.bench.postfix_tools import PostfixTools, fetch_postfix_tools, find_postfix_tools
from harness.bench.receiver_bench import (
    BenchConfig,
    Rate,
    ReceiverBenchResult,
    run_receiver_bench,
    verify_journal,
)
from harness.bench.servers import ReceiverProcess, SmtpSink, run_smtp_source
from harness.ports import free_port

__all__ = [
    "BenchConfig",
    "PostfixTools",
    "Rate",
    "ReceiverBenchResult",
    "ReceiverProcess",
    "SmtpSink",
    "fetch_postfix_tools",
    "find_postfix_tools",
    "free_port",
    "run_receiver_bench",
    "run_smtp_source",
    "verify_journal",
]
