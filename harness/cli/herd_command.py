"""`mailstorm herd`: the reopening herd — model it, load-test it, measure it with real MTAs.

Three steps, one module each, so the model (pure arithmetic), the Locust runs and the
container experiment stay apart: `model` (harness.cli.herd_model_command; `loss`, the loss
curves by outage length, harness.cli.herd_loss_command, is the same model), `run`
(harness.cli.herd_run_command) and `reopen` (harness.cli.herd_reopen_command); `locustfile`
prints where `run`'s locustfile is, for `locust -f` by hand.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

#: Subcommand modules under harness.cli, in help order; each has `register(subparsers)`.
HERD_COMMAND_MODULES = (
    "herd_model_command",
    "herd_loss_command",
    "herd_run_command",
    "herd_reopen_command",
    "herd_locustfile_command",
    "herd_worker_image_command",
)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "herd",
        help="the reopening herd: model, load test, reopen experiment",
        description=(
            "What arrives when a receiver that was down reopens: `model` predicts it from the "
            "senders' retry schedules, `run` replays it with Locust against a receiving "
            "service, `reopen` measures it with real sender MTAs in containers."
        ),
    )
    herd_commands = parser.add_subparsers(dest="herd_command", required=True, metavar="STEP")
    for name in HERD_COMMAND_MODULES:
        importlib.import_module(f"harness.cli.{name}").register(herd_commands)
