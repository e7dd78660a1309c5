"""`mailstorm herd locustfile`: where the herd's locustfile is, for `locust -f` by hand.

The locustfile is package data (`harness.herd.run.load`), so its path depends on where mailstorm
is installed; this prints it: `locust -f "$(mailstorm herd locustfile)" --herd-curve demo ...`.
"""

from __future__ import annotations

import argparse
from typing import Any

from harness.herd.run.locust_run import LOCUSTFILE


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "locustfile",
        help="print the path of the herd's locustfile (for locust -f and its web UI)",
        description=(
            "Print the path of the locustfile `mailstorm herd run` runs, so Locust can be "
            "started by hand: its web UI, or a master and workers on several machines."
        ),
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    print(LOCUSTFILE)
    return 0
