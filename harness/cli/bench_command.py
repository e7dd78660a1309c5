"""`mailstorm bench BENCHMARK`: measure mailstorm's own parts; `receiver` is the first one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.bench.load_bench import register_load
from harness.bench.receiver_bench import (
    DEFAULT_MESSAGES,
    DEFAULT_SESSIONS,
    DEFAULT_SIZE,
    TARGET_RATIO,
    BenchConfig,
    run_receiver_bench,
)
from harness.errors import BenchError


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "bench",
        help="benchmark mailstorm's own parts",
        description="Measure how fast mailstorm's own parts are on this machine.",
    )
    benchmarks = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    receiver = benchmarks.add_parser(
        "receiver",
        help="receiver throughput against Postfix's smtp-sink",
        description=(
            "Drive Postfix's smtp-sink, then `mailstorm receiver` with its journal on, with the "
            "same smtp-source load (a new connection per message), and print messages/s for "
            f"each and their ratio (target: at least {TARGET_RATIO:g}). Both servers' counts "
            "are verified afterwards. smtp-sink and smtp-source are taken from PATH or "
            "/usr/sbin, or unpacked from Debian's postfix package into a cache "
            "($MAILSTORM_CACHE, default .cache/) without installing Postfix."
        ),
    )
    receiver.add_argument(
        "--messages",
        type=_positive,
        default=DEFAULT_MESSAGES,
        metavar="N",
        help=f"messages sent to each server (default {DEFAULT_MESSAGES}, ~10-20 s in all)",
    )
    receiver.add_argument(
        "--sessions",
        type=_positive,
        default=DEFAULT_SESSIONS,
        metavar="P",
        help=f"parallel SMTP sessions (default {DEFAULT_SESSIONS})",
    )
    receiver.add_argument(
        "--size",
        type=_positive,
        default=DEFAULT_SIZE,
        metavar="BYTES",
        help=f"message body size in bytes (default {DEFAULT_SIZE})",
    )
    receiver.add_argument("--json", metavar="FILE", help="also write the result as JSON to FILE")
    receiver.set_defaults(run=run_receiver)
    register_load(benchmarks, _positive)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run_receiver(arguments: argparse.Namespace) -> int:
    json_path = Path(arguments.json) if arguments.json else None
    if json_path is not None and not json_path.parent.is_dir():
        raise BenchError(f"--json {json_path}: directory {json_path.parent} does not exist")
    config = BenchConfig(
        messages=arguments.messages, sessions=arguments.sessions, size=arguments.size
    )
    result = run_receiver_bench(
        config, progress=lambda line: print(f"bench: {line}", file=sys.stderr, flush=True)
    )
    print(result.report(), flush=True)
    if json_path is not None:
        try:
            json_path.write_text(json.dumps(result.record(), indent=2) + "\n")
        except OSError as error:
            raise BenchError(f"--json {json_path}: cannot write it: {error}") from None
    return 0
