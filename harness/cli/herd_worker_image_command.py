"""`mailstorm herd worker-image`: build the herd's Locust worker image and print its tag.

`herd run --container-workers` builds it by itself; this is for running the workers elsewhere:
tag and push it to a registry the other machines (or a Kubernetes cluster) pull from
(docs/herd-distributed.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.herd.run.worker_image import ensure_worker_image


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "worker-image",
        help="build the herd's Locust worker image (Locust and this mailstorm) and print its tag",
        description=(
            "Build (unless present) the image `herd run --container-workers` runs its Locust "
            "workers in: Debian's python3, the Python packages the herd's locustfile imports, "
            "copied from this environment, and this mailstorm's source. Prints its tag."
        ),
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    print("building or finding the herd worker image", file=sys.stderr, flush=True)
    print(ensure_worker_image())
    return 0
