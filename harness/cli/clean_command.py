"""`mailstorm clean`: remove all containers and networks mailstorm made (images on request).

Runs clean up after themselves, and the next run removes what a killed one left; this command
is for the rest: a Docker engine to hand back clean, or images to rebuild from scratch. It
removes regardless of owner, so it also stops the containers of a run still going.
"""

from __future__ import annotations

import argparse
from typing import Any

from harness.containers.cleanup import remove_all
from harness.containers.engine import docker_client


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "clean",
        help="remove mailstorm's containers and networks (and images)",
        description=(
            "Remove all containers and networks labelled mailstorm=1, from any run, live or "
            "dead; with --images also the base and target images (they are rebuilt when "
            "next needed). Prints one line per removed resource."
        ),
    )
    parser.add_argument(
        "--images", action="store_true", help="also remove mailstorm's base and target images"
    )
    parser.add_argument(
        "--run",
        dest="run_id",
        metavar="RUN_ID",
        help="only the containers and networks of this run (label mailstorm.run)",
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    client = docker_client()
    try:
        result = remove_all(client, images=arguments.images, run_id=arguments.run_id)
    finally:
        client.close()
    for item in result.removed:
        print(f"removed {item}")
    for item, reason in result.failed:
        print(f"could not remove {item}: {reason}")
    if not result.removed and not result.failed:
        print("nothing to remove")
    return 1 if result.failed else 0
