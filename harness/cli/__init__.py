"""`mailstorm` command line: one module per subcommand, errors shown as one line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness.errors import MailstormError

#: Subcommand modules under harness.cli, in help order; each has `register(subparsers)`.
COMMAND_MODULES = (
    "matrix_command",
    "schedule_command",
    "herd_command",
    "demo_command",
    "receiver_command",
    "dns_command",
    "bench_command",
    "clean_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailstorm",
        description="What real sender MTAs do when a receiver fails, measured.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"harness.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return int(arguments.run(arguments))
    except MailstormError as error:
        print(f"mailstorm: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mailstorm: interrupted", file=sys.stderr)
        return 130
