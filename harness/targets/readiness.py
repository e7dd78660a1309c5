"""A testcontainers wait strategy: ready when a command inside the container succeeds."""

from __future__ import annotations

from typing import Any

from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from harness.containers.exec_output import run_in_container
from harness.errors import MailstormError


class TargetStartError(MailstormError):
    """A target's MTA did not become ready; the message carries its log tail."""


class CommandSucceeds(WaitStrategy):
    """Polls `command` (an exec in the container) until it exits 0, within the startup timeout."""

    def __init__(self, command: list[str], *, timeout: float = 60.0, interval: float = 0.1) -> None:
        super().__init__()
        self.command = command
        self.with_startup_timeout(int(timeout)).with_poll_interval(interval)
        self.last_output = ""

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        wrapped: Any = container.get_wrapped_container()

        def check() -> bool:
            result = run_in_container(wrapped, self.command)
            self.last_output = result.text
            return result.exit_code == 0

        if not self._poll(check):
            raise TargetStartError(
                f"`{' '.join(self.command)}` did not succeed within {self._startup_timeout:g}s; "
                f"last output: {self.last_output.strip()[-500:]}"
            )
