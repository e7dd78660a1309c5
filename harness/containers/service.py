"""A container of one of mailstorm's images, run as a service: started, used, always removed.

Both kinds of MTA the harness runs are this: a sender target (`harness.targets.SenderTarget`)
and the inbound Postfix of the load tests (`harness.herd.run.inbound.InboundPostfix`). The
lifecycle is the one a testcontainers user expects and lives here once: `start()` (or `with`)
finds or builds the image of the service's folder, runs `sleep infinity` under an init process
with the run's labels (so `mailstorm clean` and the next run's cleanup know it), publishes the
ports it asks for on loopback only, then lets the subclass bring the MTA up (`bring_up`). When
any step fails, the MTA's log tail and the container's output are attached to the error as a
note and the container is removed; `stop()` is safe to call twice. The MTA is configured by
exec once the container runs, so a failed configuration still leaves logs to read.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self, cast

from testcontainers.core.container import DockerContainer

from harness.containers.base_image import DEFAULT_SUITE
from harness.containers.exec_output import run_in_container
from harness.containers.images import ensure_image
from harness.containers.labels import run_labels
from harness.containers.ryuk import disable_ryuk
from harness.containers.target_metadata import TargetMetadata
from harness.errors import MailstormError

#: Published ports are bound here only: nothing outside this machine may reach our MTAs.
PUBLISH_HOST = "127.0.0.1"
#: Log lines shown in a failure's notes.
LOG_TAIL_LINES = 40


class ServiceError(MailstormError):
    """A command inside a service container failed, or the service is used before it started."""


class ContainerService(ABC):
    """One MTA in a container of its own image. Subclasses say which image (`image_metadata`), what
    to publish (`published_ports`), how to bring the MTA up (`bring_up`) and where its log is
    (`log_path`); they raise their own error types (`error_type`, `start_error_type`)."""

    #: Where the MTA writes its log inside the container, for diagnostics.
    log_path: ClassVar[str]
    #: What a failed command raises, and what a failed start that raised no MailstormError is
    #: wrapped in.
    error_type: ClassVar[type[MailstormError]] = ServiceError
    start_error_type: ClassVar[type[MailstormError]] = ServiceError

    #: The Debian suite the image builds on (harness.containers.base_image.SUITES).
    suite: ClassVar[str] = DEFAULT_SUITE

    def __init__(self, *, hostname: str, image: str | None = None) -> None:
        self.hostname = hostname
        self._image = image
        self._container: DockerContainer | None = None
        #: the Docker network to join instead of the default bridge (an MX network), if any
        self.network: str | None = None
        #: seconds per start-up step: image, container, then what `bring_up` records
        self.timings: dict[str, float] = {}

    # -- what each service provides -------------------------------------------------------------

    @property
    @abstractmethod
    def service_name(self) -> str:
        """How messages name this service (`postfix`, `postfix-inbound`)."""

    @abstractmethod
    def image_metadata(self) -> TargetMetadata:
        """The image folder the service runs (its `target.toml` and `image/`)."""

    def build_image(self) -> str:
        """The tag of this service's image, built unless present: its folder's image on its
        Debian suite. A service that adds to that image overrides this."""
        return ensure_image(self.image_metadata(), suite=self.suite)

    def published_ports(self) -> Sequence[str]:
        """Container ports (`"25/tcp"`) to publish on an ephemeral loopback port; none here."""
        return ()

    @abstractmethod
    def bring_up(self) -> None:
        """Configure and start the MTA in the running container; return once it is ready."""

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Self:
        """Find or build the image, run the container, bring the MTA up; clean up on failure."""
        if self._container is not None:
            raise self.error_type(f"{self.service_name} already started")
        try:
            started = time.monotonic()
            image = self._image or self.build_image()
            self.timings["image"] = time.monotonic() - started
            started = time.monotonic()
            disable_ryuk()
            container = DockerContainer(image).with_command(["sleep", "infinity"])
            network = {"network": self.network} if self.network else {}
            container.with_kwargs(labels=run_labels(), hostname=self.hostname, init=True, **network)
            # (host, 0): an ephemeral host port on loopback, read back once the container runs
            ports = cast(dict[Any, Any], container.ports)
            for port in self.published_ports():
                ports[port] = (PUBLISH_HOST, 0)
            self._container = container
            container.start()
            self.timings["container"] = time.monotonic() - started
            self.bring_up()
        except BaseException as error:
            self._attach_diagnostics(error)
            self.stop()
            if isinstance(error, MailstormError | KeyboardInterrupt):
                raise
            raise self.start_error_type(f"{self.service_name} failed to start: {error}") from error
        return self

    def stop(self) -> None:
        """Remove the container; safe to call twice and after a failed start."""
        container, self._container = self._container, None
        if container is None:
            return
        with contextlib.suppress(Exception):  # already gone: nothing left to remove
            container.stop(force=True)

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

    # -- using it ---------------------------------------------------------------------------------

    @property
    def container(self) -> DockerContainer:
        if self._container is None:
            raise self.error_type(f"{self.service_name} is not started")
        return self._container

    def exec(self, command: Sequence[str] | str, *, check: bool = True) -> str:
        """Run a command in the container; its output (stdout and stderr together)."""
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        result = run_in_container(self.container.get_wrapped_container(), argv)
        output = result.text
        if check and result.exit_code != 0:
            shown = " ".join(argv)
            raise self.error_type(
                f"{self.service_name}: `{shown}` exited {result.exit_code}: {output.strip()[-800:]}"
            )
        return output

    def published_port(self, container_port: str) -> int:
        """The ephemeral loopback port the engine chose for `container_port`."""
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        settings: Mapping[str, Any] = wrapped.attrs.get("NetworkSettings", {})
        bindings = (settings.get("Ports") or {}).get(container_port)
        for binding in bindings or []:
            if binding.get("HostIp") in (PUBLISH_HOST, "") and binding.get("HostPort"):
                return int(binding["HostPort"])
        raise self.error_type(
            f"{self.service_name}: the engine published no host port for {container_port}: "
            f"{bindings!r}"
        )

    def log_lines(self) -> list[str]:
        """The MTA's log so far."""
        return self.exec(f"cat {self.log_path} 2>/dev/null || true", check=False).splitlines()

    def diagnostics(self) -> str:
        """The MTA log's tail and the container's own output, for failure messages."""
        if self._container is None:
            return f"{self.service_name}: no container"
        try:
            tail = "\n".join(self.log_lines()[-LOG_TAIL_LINES:])
            stdout, stderr = self._container.get_logs()
        except Exception as error:  # the container may be gone: say so, do not mask the failure
            return f"{self.service_name}: could not read logs: {error}"
        output = (stdout + stderr).decode("utf-8", "replace").strip()[-2000:]
        return (
            f"--- {self.service_name} log ({self.log_path}) ---\n{tail}\n"
            f"--- container output ---\n{output}"
        )

    def _attach_diagnostics(self, error: BaseException) -> None:
        if not getattr(error, "_mailstorm_diagnostics", False):
            error.add_note(self.diagnostics())
            error._mailstorm_diagnostics = True  # type: ignore[attr-defined]
