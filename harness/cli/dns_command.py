"""`mailstorm dns`: serve a test zone standalone until SIGINT/SIGTERM.

For pointing an MTA of one's own at a zone with faults (a SERVFAIL window, a withdrawn primary,
a null MX) outside a matrix run, the way `mailstorm receiver` serves a fault plan.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from harness.dns import DnsServer, load_zone
from harness.errors import DnsServerError


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "dns",
        help="serve a test zone (the harness DNS)",
        description=(
            "Answer DNS questions for the zone in FILE (a TOML file with a [zone] table: "
            "records, phases, faults; docs/dns.md) over UDP and TCP, on one port on every "
            "address given, and journal every question. Runs until SIGINT or SIGTERM. Prints "
            "one 'listening HOST:PORT' line per address when ready."
        ),
    )
    parser.add_argument("zone", metavar="FILE", help="the zone (TOML with a [zone] table)")
    parser.add_argument(
        "--listen",
        action="append",
        metavar="HOST",
        help="an address to answer on (repeatable; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the port on every address (default 0: any free)"
    )
    parser.add_argument("--journal", metavar="FILE", help="journal every question (JSON lines)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="K",
        help="phase and fault windows are real time, divided by K on the wall clock (default 1)",
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    zone = load_zone(arguments.zone)
    if arguments.time_scale <= 0:
        raise DnsServerError("--time-scale must be > 0")
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with DnsServer(
            zone,
            host=arguments.listen or ["127.0.0.1"],
            port=arguments.port,
            time_scale=arguments.time_scale,
            journal=arguments.journal,
        ) as server:
            print(
                f"zone {zone.origin}: {len(zone.records)} records, {len(zone.faults)} faults, "
                f"time scale {arguments.time_scale:g}"
            )
            for host in server.hosts:
                address = f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
                print(f"listening {address}", flush=True)
            while not stop.wait(0.5):
                pass
            asked = len(server.queries())
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print(f"stopped after {asked} questions", flush=True)
    return 0
