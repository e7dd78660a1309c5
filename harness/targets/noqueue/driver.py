"""The no-queue application sender: Python's smtplib straight to the MX, nobody to retry.

A mailbox provider receives mail from MTAs with queues and from applications that hold none: a
web shop's order confirmation sent from the request, a monitoring alert, a password reset. When
the provider answers 4xx, an MTA retries; an application that sent with `smtplib` has an
exception and moves on. This target is that application, as the matrix's control column: the
same catalogue, one attempt per message, and every temporary failure a loss
(`image/mailstorm-send` is the program; it logs one JSON line per outcome).

Its only time parameter is the socket timeout of each SMTP step. smtplib has none by default (a
send blocks for ever on a silent server); applications set one, and 300 s is the most common
default (PHPMailer's `Timeout`, RFC 5321 4.5.3.2's five minutes for most replies), scaled like
the MTAs' timeouts (`TIMEOUT_FLOOR`). It has no daemon, so there is nothing to warp, and no
retry schedule but "none": it never retries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from harness.targets.base import SenderTarget, TargetError
from harness.targets.records import LogRecord, QueuedMessage
from harness.targets.time_scaling import TimeScaling, scale_whole_seconds

PROGRAM = "/usr/local/bin/mailstorm-send"
CONFIG_FILE = "/etc/mailstorm-send.json"
#: Each SMTP step's socket timeout an application sets (PHPMailer's default), in real seconds.
SMTP_TIMEOUT = ("smtp_timeout", 300.0)
PROCESS = "mailstorm-send"
#: The scaled timeout is kept at 2 wall seconds or more: below that, a hiccup of the receiver or
#: of the container (a fork, a journal write under load) would time the session out, and the
#: cell would measure the harness's latency. Exact at k = 60 (5 s); at k = 1440 it stands for
#: 48 minutes, and the distortion list says so.
TIMEOUT_FLOOR = 2.0
_FLOOR_WHY = "a shorter timeout would measure the harness's own latency"


class NoQueueTarget(SenderTarget):
    name = "noqueue"
    log_path = "/var/log/mailstorm-send.log"
    ready_command: ClassVar[list[str]] = ["test", "-s", CONFIG_FILE]
    queues: ClassVar[bool] = False
    #: Nothing in it keeps time between attempts: there are none.
    retry_clock_slack: ClassVar[float] = 0.0

    def scale_time(self) -> TimeScaling:
        name, seconds = SMTP_TIMEOUT
        timeout = scale_whole_seconds(
            name, seconds, self.config_scale, minimum=TIMEOUT_FLOOR, why_minimum=_FLOOR_WHY
        )
        return TimeScaling(self.config_scale, (timeout,))

    def configure(self) -> None:
        routes = {
            domain: [[hop.host, hop.port] for hop in hops] for domain, hops in self.routes.routes
        }
        config = {
            "hostname": self.hostname,
            "timeout": self.scaling.get(SMTP_TIMEOUT[0]).configured_seconds,
            "routes": routes,
            "log": self.log_path,
        }
        self.put_file(CONFIG_FILE, json.dumps(config, indent=2) + "\n")

    def start_mta(self) -> None:
        """No daemon: every submission is its own process."""

    def submit_command(self, sender: str, recipients: Sequence[str]) -> list[str]:
        # Detached: the submission returns once the message is read, as a web request does,
        # so messages submitted together are sent in concurrent sessions.
        return [PROGRAM, "--detach", "-f", sender, "--", *recipients]

    def queue(self) -> list[QueuedMessage]:
        """Nothing is ever held."""
        return []

    def first_retry_window(self) -> tuple[float, float] | None:
        """It never retries."""
        return None

    def parse_log_line(self, line: str) -> LogRecord | None:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(entry, dict):
            return None
        try:
            stamp = datetime.fromtimestamp(float(entry["time"]), UTC)
            fields = {str(k): str(v) for k, v in dict(entry.get("fields", {})).items()}
            return LogRecord(
                time=stamp,
                process=PROCESS,
                queue_id=str(entry["queue_id"]),
                text=str(entry.get("text", "")),
                fields=fields,
                raw=line,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise TargetError(
                f"{self.name}: a log line it cannot read ({error}): {line!r}"
            ) from None
