"""The reopening herd for Locust: `locust -f "$(mailstorm herd locustfile)"` (see README.md here).

Users are connection slots of upstream MTAs (`smtp_user.SmtpSlot`); the shape replays the
arrival curve (`herd_shape.HerdShape`); options are `--herd-*` (`herd_runtime.add_arguments`).
"""

from __future__ import annotations

import sys
from typing import Any

from locust import events
from locust.env import Environment

from harness.errors import MailstormError
from harness.herd.run.load.herd_runtime import add_arguments, install
from harness.herd.run.load.herd_shape import HerdShape
from harness.herd.run.load.smtp_user import SmtpSlot

__all__ = ["HerdShape", "SmtpSlot"]


@events.init_command_line_parser.add_listener
def _arguments(parser: Any, **_: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    try:
        install(environment)
    except MailstormError as error:
        sys.stderr.write(f"mailstorm: error: {error}\n")
        sys.exit(2)
