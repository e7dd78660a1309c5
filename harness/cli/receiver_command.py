"""`mailstorm receiver`: run the controllable receiver standalone until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from harness.cli.argument_types import positive_int
from harness.durations import format_duration
from harness.receiver import ACCEPT_ALL, JournalWriter, ListenSpec, load_plan, serve
from harness.receiver.listeners import BoundListener
from harness.receiver.process_group import ReceiverGroup
from harness.receiver.reuseport import BALANCES, group_problems

#: how often a group's supervisor looks whether every process still runs (wall seconds)
_WATCH_INTERVAL = 0.5


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "receiver",
        help="run the controllable SMTP receiver",
        description=(
            "Serve SMTP on the given addresses, answering as the fault plan says, and journal "
            "everything. Runs until SIGINT or SIGTERM, then flushes the journal and exits 0. "
            "Prints one 'listening NAME=HOST:PORT' line per listener when ready."
        ),
    )
    parser.add_argument(
        "--listen",
        action="append",
        metavar="[NAME=]HOST:PORT",
        help="address to listen on (repeatable; port 0 picks a free port); default 127.0.0.1:2525",
    )
    parser.add_argument("--scenario", metavar="FILE", help="fault plan (TOML); default: accept all")
    parser.add_argument("--journal", metavar="FILE", required=True, help="journal file (SQLite)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing journal file")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="K",
        help="plan durations are real MTA time, divided by K on the wall clock (default 1)",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="N",
        help=(
            "serve from N processes sharing the ports (SO_REUSEPORT), each with its own "
            "journal under JOURNAL.parts/, merged into JOURNAL at the end (default 1)"
        ),
    )
    parser.add_argument(
        "--balance",
        choices=BALANCES,
        default="client",
        help=(
            "with --processes: 'client' keeps every session of one client address on one "
            "process, so per-client plan state stays whole (default); 'connection' lets the "
            "kernel spread every connection (for one client address, as a benchmark has)"
        ),
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    specs = [ListenSpec.parse(text) for text in arguments.listen or ["127.0.0.1:2525"]]
    plan = (
        load_plan(arguments.scenario, other_sections=("send", "observe", "scenario"))
        if arguments.scenario
        else ACCEPT_ALL
    )
    if arguments.time_scale <= 0:
        print("mailstorm: error: --time-scale must be > 0", file=sys.stderr)
        return 2
    if arguments.processes > 1:
        return _run_group(arguments, specs, plan)
    journal = JournalWriter(
        arguments.journal,
        meta=plan.journal_meta(arguments.time_scale),
        overwrite=arguments.overwrite,
    )

    def ready(listeners: list[BoundListener]) -> None:
        rules = f"{len(plan.rules)} rule{'s' * (len(plan.rules) != 1)}"
        print(f"plan {plan.name!r}: {rules}, time scale {arguments.time_scale:g}")
        for listener in listeners:
            print(f"listening {listener}", flush=True)

    try:
        core = serve(plan, specs, journal, time_scale=arguments.time_scale, on_ready=ready)
    finally:
        journal.close()
    elapsed = format_duration(core.decider.elapsed_real() / arguments.time_scale)
    print(f"stopped after {elapsed}; journal: {arguments.journal}", flush=True)
    for error in core.errors:
        print(f"mailstorm: receiver error: {type(error).__name__}: {error}", file=sys.stderr)
    return 1 if core.errors else 0


def _run_group(arguments: argparse.Namespace, specs: list[ListenSpec], plan: Any) -> int:
    """Supervise N receiver processes until SIGINT/SIGTERM, then merge their journals."""
    problems = group_problems(plan, arguments.balance)
    if problems:
        print(
            f"mailstorm: error: plan {plan.name!r} keeps state that {arguments.processes} "
            f"processes with {arguments.balance} balance would split: {'; '.join(problems)}",
            file=sys.stderr,
        )
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stopping.set())
    group = ReceiverGroup(
        specs,
        Path(arguments.journal),
        arguments.processes,
        scenario=Path(arguments.scenario) if arguments.scenario else None,
        time_scale=arguments.time_scale,
        balance=arguments.balance,
        overwrite=arguments.overwrite,
    )
    with group:
        rules = f"{len(plan.rules)} rule{'s' * (len(plan.rules) != 1)}"
        print(
            f"plan {plan.name!r}: {rules}, time scale {arguments.time_scale:g}, "
            f"{arguments.processes} processes ({arguments.balance} balance)"
        )
        for listener in group.listeners:
            print(f"listening {listener}", flush=True)
        while not stopping.wait(_WATCH_INTERVAL):
            group.check_alive()
        merged = group.finish()
    print(merged.summary(), flush=True)
    return 0
