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

The container carries the run's labels (`harness.containers.labels`), so a run killed before
`stop()` leaves nothing the next run's cleanup does not remove.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import docker
import docker.errors
from docker.models.containers import Container

from harness.containers import (
    TargetMetadata,
    docker_client,
    ensure_image,
    load_target_metadata,
    run_labels,
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
#: Only loopback: the load test runs on this machine and nothing else may reach the MTA.
PUBLISH_HOST = "127.0.0.1"
#: Log lines shown in a failure's notes.
LOG_TAIL_LINES = 40


def image_metadata() -> TargetMetadata:
    """The inbound Postfix's `target.toml` and image folder, found inside the package."""
    return load_target_metadata(Path(str(files(__package__ or "harness.herd.run") / IMAGE_FOLDER)))


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


class InboundPostfix:
    """Postfix receiving mail for `example.test` on 127.0.0.1:<ephemeral port>.

    `start()` (or `with`) builds or finds the image, starts the container, applies the capacity,
    starts Postfix and waits for its 220 greeting on the published port; it removes the
    container when any step fails. `stop()` removes it; both are safe to call twice.
    """

    domain = DOMAIN

    def __init__(
        self,
        capacity: InboundCapacity | None = None,
        *,
        startup_timeout: float = 60.0,
        image: str | None = None,
    ) -> None:
        self.capacity = capacity or InboundCapacity()
        self.startup_timeout = startup_timeout
        self._image = image
        self._client: docker.DockerClient | None = None
        self._container: Container | None = None
        self._port: int | None = None
        self.version = ""
        self.timings: dict[str, float] = {}  #: seconds: image, container, ready

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._container is not None:
            raise InboundError("inbound Postfix already started")
        try:
            started = time.monotonic()
            self._client = docker_client()
            image = self._image or ensure_image(image_metadata(), self._client)
            self.timings["image"] = time.monotonic() - started
            started = time.monotonic()
            self._container = self._client.containers.run(
                image,
                ["sleep", "infinity"],
                detach=True,
                init=True,
                hostname="inbound.mailstorm.test",
                labels=run_labels(),
                ports={SMTP_PORT: (PUBLISH_HOST, 0)},  # 0: an ephemeral host port
            )
            self._port = self._published_port(self._container)
            self.timings["container"] = time.monotonic() - started
            started = time.monotonic()
            settings = [f"{key}={value}" for key, value in self.capacity.settings().items()]
            self.exec(["postconf", "-e", *settings])
            self.version = self.exec(["postconf", "-h", "mail_version"]).strip()
            self.exec(["postfix", "start"])
            self._wait_for_greeting()
            self.timings["ready"] = time.monotonic() - started
        except BaseException as error:
            self._attach_diagnostics(error)
            self.stop()
            if isinstance(error, MailstormError | KeyboardInterrupt):
                raise
            raise InboundError(f"inbound Postfix failed to start: {error}") from error
        return self

    def stop(self) -> None:
        container, self._container = self._container, None
        client, self._client = self._client, None
        self._port = None
        if container is not None:
            with contextlib.suppress(docker.errors.DockerException):  # already gone
                container.remove(force=True)
        if client is not None:
            client.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._attach_diagnostics(exc)
        self.stop()

    # -- where and what -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        self._require()
        return PUBLISH_HOST

    @property
    def port(self) -> int:
        self._require()
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

    def log_lines(self) -> list[str]:
        return self.exec(f"cat {LOG_PATH} 2>/dev/null || true").splitlines()

    def describe(self) -> dict[str, Any]:
        """What a load-test report records about the server it hit."""
        return {
            "name": IMAGE_NAME,
            "version": self.version,
            "domain": DOMAIN,
            "address": self.address,
            **self.capacity.settings(),
        }

    def exec(self, command: list[str] | str) -> str:
        """Run a command in the container; its output. Raises InboundError when it fails."""
        argv = ["sh", "-c", command] if isinstance(command, str) else command
        result = self._require().exec_run(argv)
        raw = result.output
        assert isinstance(raw, bytes)  # exec_run without stream=True returns bytes
        output = raw.decode("utf-8", "replace")
        if result.exit_code != 0:
            raise InboundError(
                f"{IMAGE_NAME}: `{' '.join(argv)}` exited {result.exit_code}: {output[-800:]}"
            )
        return output

    # -- helpers ------------------------------------------------------------------------------

    def _require(self) -> Container:
        if self._container is None:
            raise InboundError("inbound Postfix is not started")
        return self._container

    @staticmethod
    def _published_port(container: Container) -> int:
        """The ephemeral host port the engine chose for port 25 (known once it runs)."""
        container.reload()
        bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(SMTP_PORT)
        for binding in bindings or []:
            if binding.get("HostIp") in (PUBLISH_HOST, "") and binding.get("HostPort"):
                return int(binding["HostPort"])
        raise InboundError(f"the engine published no host port for {SMTP_PORT}: {bindings!r}")

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

    def diagnostics(self) -> str:
        if self._container is None:
            return f"{IMAGE_NAME}: no container"
        try:
            tail = "\n".join(self.log_lines()[-LOG_TAIL_LINES:])
            output = bytes(self._container.logs()).decode("utf-8", "replace").strip()[-2000:]
        except (MailstormError, docker.errors.DockerException) as error:
            return f"{IMAGE_NAME}: could not read logs: {error}"
        return f"--- {IMAGE_NAME} log ({LOG_PATH}) ---\n{tail}\n--- container output ---\n{output}"

    def _attach_diagnostics(self, error: BaseException) -> None:
        if not getattr(error, "_mailstorm_diagnostics", False):
            error.add_note(self.diagnostics())
            error._mailstorm_diagnostics = True  # type: ignore[attr-defined]
