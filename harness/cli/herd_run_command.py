"""`mailstorm herd run`: replay a herd's arrival curve with Locust against an SMTP server.

Orchestration in `harness.herd.run.locust_run`, the summary and plots in `harness.herd.run.summary`;
the Locust side is the package `harness.herd.run.load` and runs in subprocesses only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.cli.argument_types import non_negative_float, positive_int
from harness.herd.run.curve import CURVE_OPTION_HELP, curve_from_option
from harness.herd.run.inbound import InboundCapacity, InboundPostfix
from harness.herd.run.locust_run import LoadRunConfig, LoadRunResult, probe_target, run_load
from harness.herd.run.target import check_target
from harness.report.run_dir import create_run_dir


def register(commands: Any) -> None:
    defaults = LoadRunConfig()
    parser: argparse.ArgumentParser = commands.add_parser(
        "run",
        help="replay the herd with Locust against a receiving SMTP server",
        description=(
            "Replay an arrival curve with Locust, headless: one Locust user is one connection "
            "slot of an upstream MTA, every SMTP phase a request of its own, 4xx retried on "
            "the sender class's schedule. Writes Locust's CSV and HTML reports, a summary "
            "(summary.md, summary.json) and plots under REPORTS/<run-id>/. Without --target "
            "the embedded receiver is the target: N concurrent sessions, then 421. Every run "
            "is bounded by --run-time and --max-messages."
        ),
    )
    parser.add_argument("--curve", default=defaults.curve, help=CURVE_OPTION_HELP)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--target",
        metavar="HOST:PORT",
        help="the SMTP server to load (default: the embedded receiver on 127.0.0.1)",
    )
    where.add_argument(
        "--against",
        choices=("receiver", "postfix-inbound"),
        default="receiver",
        help="a built-in target: the embedded receiver (default), or a real receiving MTA: "
        "Postfix in a container, published on 127.0.0.1, that answers 421 above "
        "--max-sessions connections and delivers every message into a Maildir",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --target that is not a loopback address (only hosts you own)",
    )
    parser.add_argument(
        "--max-sessions",
        type=positive_int,
        default=defaults.max_sessions,
        metavar="N",
        help=f"embedded receiver: 421 above N sessions (default {defaults.max_sessions})",
    )
    parser.add_argument(
        "--session-time",
        type=non_negative_float,
        default=defaults.session_time,
        metavar="SECONDS",
        help="embedded receiver: seconds each message takes before its 250 "
        f"(default {defaults.session_time:g})",
    )
    parser.add_argument(
        "--time-factor",
        type=non_negative_float,
        default=defaults.time_factor,
        metavar="F",
        help="compress the curve's time (and retry backoffs) by F "
        f"(default {defaults.time_factor:g})",
    )
    parser.add_argument(
        "--volume",
        type=non_negative_float,
        default=defaults.volume,
        metavar="V",
        help="fraction of the curve's messages to send (default 1)",
    )
    parser.add_argument(
        "--max-messages",
        type=positive_int,
        default=defaults.max_messages,
        metavar="N",
        help=f"cap on new messages in the run (default {defaults.max_messages})",
    )
    parser.add_argument(
        "--max-users",
        type=positive_int,
        default=defaults.max_users,
        metavar="N",
        help=f"cap on connection slots (default {defaults.max_users})",
    )
    parser.add_argument(
        "--run-time",
        type=non_negative_float,
        default=defaults.run_time,
        metavar="SECONDS",
        help=f"wall-time limit of the load (default {defaults.run_time:g})",
    )
    parser.add_argument(
        "--drain",
        type=non_negative_float,
        default=defaults.drain,
        metavar="SECONDS",
        help="wall seconds after the curve's end for retries to drain "
        f"(default {defaults.drain:g})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        metavar="N",
        help="distributed: a Locust master and N worker processes (default 0: one process)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=defaults.processes,
        metavar="N",
        help="Locust's own --processes: one locust command forks N workers (-1: one per core)",
    )
    parser.add_argument(
        "--container-workers",
        type=int,
        default=defaults.container_workers,
        metavar="N",
        help="a master here and N Locust workers in containers on a bridge of this run, each "
        "sending from its own addresses (needs Docker; the embedded receiver)",
    )
    parser.add_argument(
        "--addresses-per-worker",
        type=positive_int,
        default=defaults.addresses_per_worker,
        metavar="M",
        help="client addresses each container worker sends from "
        f"(default {defaults.addresses_per_worker})",
    )
    parser.add_argument("--size", type=positive_int, default=defaults.message_size, metavar="BYTES")
    parser.add_argument(
        "--timeout",
        type=non_negative_float,
        default=defaults.timeout,
        metavar="SECONDS",
        help=f"seconds each SMTP phase may take (default {defaults.timeout:g})",
    )
    parser.add_argument(
        "--no-pipelining", action="store_true", help="never pipeline MAIL/RCPT/DATA"
    )
    parser.add_argument(
        "--source-addresses",
        default="",
        metavar="ADDRESSES",
        help="client addresses the herd connects from, one per connection slot: "
        "127.0.0.2-127.0.0.51, a CIDR or a comma list (loopback; others with --allow-remote): "
        "many sending hosts, as a receiver's per-IP limits see them",
    )
    parser.add_argument(
        "--per-ip-sessions",
        type=positive_int,
        metavar="N",
        help="embedded receiver: 421 at the greeting above N sessions from one client address "
        "(besides --max-sessions in all)",
    )
    parser.add_argument(
        "--attempt-log",
        action="store_true",
        help="write every attempt of every message (herd-*.attempts.csv in the run directory)",
    )
    parser.add_argument("--reports", default="reports", metavar="DIR", help="reports root")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    config = LoadRunConfig(
        curve=arguments.curve,
        target=arguments.target,
        allow_remote=arguments.allow_remote,
        max_sessions=arguments.max_sessions,
        session_time=arguments.session_time,
        time_factor=arguments.time_factor,
        volume=arguments.volume,
        max_messages=arguments.max_messages,
        max_users=arguments.max_users,
        run_time=arguments.run_time,
        drain=arguments.drain,
        workers=arguments.workers,
        processes=arguments.processes,
        container_workers=arguments.container_workers,
        addresses_per_worker=arguments.addresses_per_worker,
        message_size=arguments.size,
        timeout=arguments.timeout,
        pipelining=not arguments.no_pipelining,
        attempt_log=arguments.attempt_log,
        source_addresses=arguments.source_addresses,
        per_ip_sessions=arguments.per_ip_sessions,
    )
    # Refuse a bad curve or target before a run directory is made for it.
    curve_from_option(config.curve)
    if config.target is not None:
        probe_target(*check_target(config.target, allow_remote=config.allow_remote))
    run_dir = create_run_dir(Path(arguments.reports), "herd-run")

    def progress(line: str) -> None:
        print(f"herd run: {line}", file=sys.stderr, flush=True)

    progress(f"run directory: {run_dir}")
    if arguments.against == "postfix-inbound":
        result, delivered = _run_against_inbound_postfix(config, run_dir, progress)
    else:
        result, delivered = run_load(config, run_dir=run_dir, progress=progress), None
    print(result.summary.report(), flush=True)
    if delivered is not None:
        print(
            f"Postfix inbound: {delivered} messages delivered to its Maildir for "
            f"{result.summary.delivered} accepted (its log: postfix-inbound.log)",
            flush=True,
        )
    print(f"\nreports: {run_dir}", flush=True)
    return 0


def _run_against_inbound_postfix(
    config: LoadRunConfig, run_dir: Path, progress: Callable[[str], None]
) -> tuple[LoadRunResult, int]:
    """The herd against a real MTA: Postfix inbound, 421 above N connections (all of the
    load comes from one client address), every accepted message delivered to its Maildir.
    Returns the run and how many messages the Maildir holds."""
    capacity = InboundCapacity(
        process_limit=max(100, config.max_sessions), client_limit=config.max_sessions
    )
    progress(f"starting Postfix inbound (421 above {config.max_sessions} connections)")
    with InboundPostfix(capacity) as inbound:
        progress(f"Postfix {inbound.version} inbound at {inbound.address}")
        result = run_load(
            replace(config, target=inbound.address, domain=inbound.domain),
            run_dir=run_dir,
            progress=progress,
        )
        accepted = result.summary.delivered
        delivered = inbound.wait_delivered(accepted, timeout=max(60.0, accepted / 50))
        (run_dir / "postfix-inbound.log").write_text("\n".join(inbound.log_lines()) + "\n")
    return result, delivered
