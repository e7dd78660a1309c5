"""Bounded polling: wait for something another process does, with a deadline and a clear failure.

MTAs in containers give no events to wait on, so the harness polls what they leave behind (the
receiver's journal, a queue listing). Every wait has a deadline, and its failure says what was
waited for and what was seen last, so a timeout reads as a finding rather than a mystery.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from harness.errors import MailstormError

T = TypeVar("T")


class WaitTimeout(MailstormError):
    """What was waited for did not happen before the deadline; the message says what was seen."""


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    seen: Callable[[], str] | None = None,
    interval: float = 0.1,
) -> T:
    """Call `condition` until it returns something true, and return that; at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            last = f"; last seen: {seen()}" if seen is not None else ""
            raise WaitTimeout(f"waited {timeout:g}s for {what}{last}")
        time.sleep(interval)
