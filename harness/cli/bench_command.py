"""`mailstorm bench BENCHMARK`: measure mailstorm's own parts against a reference on this machine.

`receiver`: the receiver against Postfix's smtp-sink; `load`: the herd's Locust load against
Postfix's smtp-source. Both take the same load options and print (and optionally save) a result
with its ratio to the reference.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from harness.bench import load_bench, receiver_bench
from harness.bench.receiver_bench import BenchConfig
from harness.cli.argument_types import positive_int, positive_int_list
from harness.errors import BenchError


class _Result(Protocol):
    def report(self) -> str: ...

    def record(self) -> Any: ...


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
            f"each and their ratio (target: at least {receiver_bench.TARGET_RATIO:g}). Both "
            "servers' counts are verified afterwards. smtp-sink and smtp-source are taken from "
            "PATH or /usr/sbin, or unpacked from Debian's postfix package into a cache "
            "($MAILSTORM_CACHE, default .cache/) without installing Postfix."
        ),
    )
    _add_load_options(receiver, BenchConfig(), what="sent to each server, ~10-20 s in all")
    receiver.add_argument(
        "--processes",
        type=positive_int_list,
        default=(1, 2),
        metavar="LIST",
        help=(
            "receiver process counts to measure in this run, each a group sharing the port "
            "(SO_REUSEPORT, balanced by connection, journals merged and verified) (default 1,2)"
        ),
    )
    receiver.set_defaults(
        run=lambda arguments: _run(
            arguments,
            BenchConfig,
            functools.partial(receiver_bench.run_receiver_bench, processes=arguments.processes),
        )
    )
    load = benchmarks.add_parser(
        "load",
        help="Locust worker processes' session rate against Postfix's smtp-sink",
        description=(
            "Drive one smtp-sink with Postfix's smtp-source, then the herd locustfile with one "
            "Locust worker process, then two, each sending the same messages over the same "
            "number of sessions per process (a new connection per message); print sessions/s "
            f"and the ratios to smtp-source (targets: {load_bench.TARGET_ONE:g} for one "
            f"process, {load_bench.TARGET_TWO:g} for two). smtp-sink's counter and Locust's "
            "records are verified."
        ),
    )
    _add_load_options(load, load_bench.load_bench_config(), what="per load")
    load.add_argument(
        "--source-addresses",
        default="",
        metavar="ADDRESSES",
        help="Locust users send from these loopback addresses, one each in turn "
        "(127.0.0.2-127.0.0.201, a CIDR, a comma list), as a herd from many hosts would",
    )
    load.set_defaults(
        run=lambda arguments: _run(
            arguments,
            load_bench.load_bench_config,
            functools.partial(
                load_bench.run_load_bench, source_addresses=arguments.source_addresses
            ),
        )
    )


def _add_load_options(parser: argparse.ArgumentParser, defaults: BenchConfig, what: str) -> None:
    parser.add_argument(
        "--messages",
        type=positive_int,
        default=defaults.messages,
        metavar="N",
        help=f"messages {what} (default {defaults.messages})",
    )
    parser.add_argument(
        "--sessions",
        type=positive_int,
        default=defaults.sessions,
        metavar="P",
        help=f"parallel SMTP sessions (per process) (default {defaults.sessions})",
    )
    parser.add_argument(
        "--size",
        type=positive_int,
        default=defaults.size,
        metavar="BYTES",
        help=f"message body size in bytes (default {defaults.size})",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON to FILE")


def _run(
    arguments: argparse.Namespace,
    make_config: Callable[..., BenchConfig],
    bench: Callable[..., _Result],
) -> int:
    json_path = Path(arguments.json) if arguments.json else None
    if json_path is not None and not json_path.parent.is_dir():
        raise BenchError(f"--json {json_path}: directory {json_path.parent} does not exist")
    config = make_config(
        messages=arguments.messages, sessions=arguments.sessions, size=arguments.size
    )
    result = bench(
        config, progress=lambda line: print(f"bench: {line}", file=sys.stderr, flush=True)
    )
    print(result.report(), flush=True)
    if json_path is not None:
        try:
            json_path.write_text(json.dumps(result.record(), indent=2) + "\n")
        except OSError as error:
            raise BenchError(f"--json {json_path}: cannot write it: {error}") from None
    return 0
