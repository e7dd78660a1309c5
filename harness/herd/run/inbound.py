"""A real receiving MTA for the herd load tests: Postfix in a container, inbound for one domain.

The project's receiver answers like any server but is not one; a load test that only ever hits it
says nothing about a real MTA's admission behaviour (process limits, per-client connection
limits, the queue manager behind smtpd). `InboundPostfix` starts the `postfix-inbound` image
(its folder `inbound_postfix/` beside this module: Debian's Postfix, every address of
`example.test` delivered by virtual(8) into one Maildir) with its SMTP port published on
127.0.0.1 only, on an ephemeral host port read back from the engine, so runs never collide and
nothing outside the machine can reach it. Capacity is given when it starts (`default_process_limit`,
`smtpd_client_connection_count_limit`); delivered messages are counted in the Maildir, i.e.
after real delivery, not at the 250.

    with InboundPostfix(process_limit=20) as inbound:
        run_load(target=inbound.address)          # "127.0.0.1:<port>"
        inbound.wait_delivered(expected, timeout=60)

The lifecycle (image, the run's labels, loopback-only publishing, clean-up on a failed start,
exec, diagnostics) is `harness.containers.ContainerService`, the same as the sender targets',
so a run killed before `stop()` leaves nothing the next run's cleanup does not remove.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from harness.containers import (
    PUBLISH_HOST,
    ContainerService,
    TargetMetadata,
    load_target_metadata,
)
from harness.errors import HerdError, MailstormError
from harness.waiting import WaitTimeout, wait_until

#: The image folder beside this module (not a sender target: the registry does not list it).
IMAGE_FOLDER = "inbound_postfix"
#: Its name in reports and messages (the `name` of its target.toml).
IMAGE_NAME = "postfix-inbound"
#: The domain it accepts mail for; any local part is delivered to the one Maildir.
DOMAIN = "example.test"
MAILDIR = f"/var/mail/vhosts/{DOMAIN}"
LOG_PATH = "/var/log/postfix.log"
SMTP_PORT = "25/tcp"


def image_metadata() -> TargetMetadata:
    """The inbound Postfix's `target.toml` and image folder, found inside the package."""
    return load_target_metadata(Path(str(files("harness.herd.run") / IMAGE_FOLDER)))


class InboundError(HerdError):
    """The inbound Postfix could not be started or read (its log tail is in the notes)."""


@dataclass(frozen=True)
class InboundCapacity:
    """How much the inbound server admits at once.

    `process_limit` is Postfix's `default_process_limit`: at most that many smtpd processes,
    i.e. concurrent SMTP sessions (more connections wait in the listen queue). `client_limit`
    is `smtpd_client_connection_count_limit`: concurrent sessions per client IP (0: no limit;
    above it smtpd answers 421). Postfix's own defaults are 100 and 50.
    """

    process_limit: int = 100
    client_limit: int = 50

    def __post_init__(self) -> None:
        if self.process_limit < 1:
            raise InboundError(f"process_limit must be >= 1, got {self.process_limit}")
        if self.client_limit < 0:
            raise InboundError(f"client_limit must be >= 0, got {self.client_limit}")

    def settings(self) -> dict[str, str]:
        return {
            "default_process_limit": str(self.process_limit),
            "smtpd_client_connection_count_limit": str(self.client_limit),
        }


class InboundPostfix(ContainerService):
    """Postfix receiving mail for `example.test` on 127.0.0.1:<ephemeral port>.

    `start()` (or `with`) builds or finds the image, starts the container, applies the capacity,
    starts Postfix and waits for its 220 greeting on the published port; it removes the
    container when any step fails. `stop()` removes it; both are safe to call twice.
    """

    domain = DOMAIN
    log_path: ClassVar[str] = LOG_PATH
    error_type: ClassVar[type[MailstormError]] = InboundError
    start_error_type: ClassVar[type[MailstormError]] = InboundError

    def __init__(
        self,
        capacity: InboundCapacity | None = None,
        *,
        startup_timeout: float = 60.0,
        image: str | None = None,
    ) -> None:
        super().__init__(hostname="inbound.mailstorm.test", image=image)
        self.capacity = capacity or InboundCapacity()
        self.startup_timeout = startup_timeout
        self._port: int | None = None
        self.version = ""

    # -- the service ----------------------------------------------------------------------------

    @property
    def service_name(self) -> str:
        return IMAGE_NAME

    def image_metadata(self) -> TargetMetadata:
        return image_metadata()

    def published_ports(self) -> Sequence[str]:
        return (SMTP_PORT,)

    def bring_up(self) -> None:
        """Apply the capacity, start Postfix, wait for its greeting on the published port."""
        self._port = self.published_port(SMTP_PORT)
        started = time.monotonic()
        settings = [f"{key}={value}" for key, value in self.capacity.settings().items()]
        self.exec(["postconf", "-e", *settings])
        self.version = self.exec(["postconf", "-h", "mail_version"]).strip()
        self.exec(["postfix", "start"])
        self._wait_for_greeting()
        self.timings["ready"] = time.monotonic() - started

    def stop(self) -> None:
        super().stop()
        self._port = None

    # -- where and what -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        self.container  # noqa: B018 -- raises InboundError when not started
        return PUBLISH_HOST

    @property
    def port(self) -> int:
        self.container  # noqa: B018 -- raises InboundError when not started
        assert self._port is not None  # set with the container
        return self._port

    @property
    def address(self) -> str:
        """`HOST:PORT`, as `mailstorm herd run --target` takes it."""
        return f"{self.host}:{self.port}"

    def delivered_count(self) -> int:
        """Messages delivered into the Maildir so far (each delivery is one file)."""
        output = self.exec(f"find {MAILDIR}/new {MAILDIR}/cur -type f 2>/dev/null | wc -l")
        return int(output.strip() or 0)

    def wait_delivered(self, count: int, *, timeout: float = 60.0) -> int:
        """Wait until at least `count` messages are delivered; the number delivered then."""
        seen = [self.delivered_count()]

        def enough() -> bool:
            seen[0] = self.delivered_count()
            return seen[0] >= count

        wait_until(
            enough,
            timeout=timeout,
            interval=0.2,
            what=f"{count} message(s) delivered to {MAILDIR}",
            seen=lambda: f"{seen[0]} delivered",
        )
        return seen[0]

    def describe(self) -> dict[str, Any]:
        """What a load-test report records about the server it hit."""
        return {
            "name": IMAGE_NAME,
            "version": self.version,
            "domain": DOMAIN,
            "address": self.address,
            **self.capacity.settings(),
        }

    # -- helpers ------------------------------------------------------------------------------

    def _wait_for_greeting(self) -> None:
        """Poll until a connection gets a 220 line. Connecting is not enough: docker's proxy
        accepts on the host port before anything listens inside, then hangs up."""
        last = ["nothing yet"]

        def greets() -> bool:
            try:
                with socket.create_connection((PUBLISH_HOST, self.port), timeout=2.0) as sock:
                    sock.settimeout(2.0)
                    line = sock.makefile("rb").readline().decode("ascii", "replace").strip()
                    with contextlib.suppress(OSError):
                        sock.sendall(b"QUIT\r\n")
            except OSError as error:
                last[0] = f"{type(error).__name__}: {error}"
                return False
            last[0] = repr(line) if line else "connection closed without a greeting"
            return line.startswith("220 ")

        try:
            wait_until(
                greets,
                timeout=self.startup_timeout,
                interval=0.2,
                what=f"a 220 greeting on {PUBLISH_HOST}:{self.port}",
                seen=lambda: last[0],
            )
        except WaitTimeout as error:
            raise InboundError(str(error)) from None
