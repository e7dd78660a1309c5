"""One process of a receiver group: `python -m harness.receiver.group_member`.

`ReceiverGroup` starts N of these on ports it has reserved. Each serves the same plan with its
own journal, on sockets that share the ports (`SO_REUSEPORT`), and prints one
`listening NAME=HOST:PORT` line per listener when ready, as `mailstorm receiver` does. SIGINT or
SIGTERM stops it: it commits its journal and exits 0 (1 after a receiver error, 2 when it could
not start, with the reason on stderr).
"""

from __future__ import annotations

import argparse
import sys

from harness.errors import MailstormError
from harness.receiver.journal_writer import JournalWriter
from harness.receiver.listeners import BoundListener, ListenSpec
from harness.receiver.plan import ACCEPT_ALL
from harness.receiver.plan_loader import load_plan
from harness.receiver.reuseport import BALANCES, GroupMembership
from harness.receiver.server import serve

#: the scenario sections a plan file may carry besides the plan (as `mailstorm receiver` allows)
_OTHER_SECTIONS = ("send", "observe", "scenario")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.receiver.group_member")
    parser.add_argument("--listen", action="append", required=True, metavar="NAME=HOST:PORT")
    parser.add_argument("--journal", required=True, metavar="FILE")
    parser.add_argument("--member", required=True, metavar="I/N")
    parser.add_argument("--balance", choices=BALANCES, default="client")
    parser.add_argument("--scenario", metavar="FILE")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="K")
    return parser


def main(argv: list[str]) -> int:
    arguments = _parser().parse_args(argv)
    try:
        membership = GroupMembership.parse(arguments.member, arguments.balance)
        specs = [ListenSpec.parse(text) for text in arguments.listen]
        plan = (
            load_plan(arguments.scenario, other_sections=_OTHER_SECTIONS)
            if arguments.scenario
            else ACCEPT_ALL
        )
        journal = JournalWriter(
            arguments.journal,
            meta={
                **plan.journal_meta(arguments.time_scale),
                "process": f"{membership.member}/{membership.processes}",
            },
        )
    except MailstormError as error:
        print(f"mailstorm: error: {error}", file=sys.stderr)
        return 2

    def ready(listeners: list[BoundListener]) -> None:
        for listener in listeners:
            print(f"listening {listener}", flush=True)

    try:
        core = serve(
            plan,
            specs,
            journal,
            time_scale=arguments.time_scale,
            on_ready=ready,
            group=membership,
        )
    except MailstormError as error:
        print(f"mailstorm: error: {error}", file=sys.stderr)
        return 2
    finally:
        journal.close()
    for failure in core.errors:
        print(f"mailstorm: receiver error: {type(failure).__name__}: {failure}", file=sys.stderr)
    return 1 if core.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
