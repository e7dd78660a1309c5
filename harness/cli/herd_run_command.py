"""`mailstorm herd run` (being built: see issue 6)."""

from __future__ import annotations

import argparse
from typing import Any

from harness.errors import MailstormError


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("run", help="(not built yet)")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    raise MailstormError("mailstorm herd run is not built yet")
