"""The shared base of every sender-MTA target: a container, configured, started, fed, inspected.

A target is what a testcontainers user expects: construct it with its configuration, `start()`
it (or use `with`), read what it did, and it is removed when it stops, even when start fails
half-way. Each MTA's folder (`postfix/`, `exim/`, ...) holds its driver, its `target.toml` and
its image; the driver supplies only what differs: how to configure routes and time, how to start
the daemon, and how to read its queue and log.

The container's lifecycle (image, labels, clean-up on a failed start, exec, diagnostics) is
`harness.containers.ContainerService`, shared with the inbound Postfix of the load tests; a
target adds routes, the scaled or warped clock, submission, and its queue and log.
"""

from __future__ import annotations

import email.utils
import io
import tarfile
import time
from abc import abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from harness.containers import (
    ContainerService,
    TargetMetadata,
    ensure_derived_image,
    load_target_metadata,
)
from harness.errors import MailstormError, TargetMetadataError
from harness.message_ids import HEADER, new_message_id, sender_address
from harness.results import ScaledParameter
from harness.targets.clock_warp import (
    ENVIRONMENT_FILE,
    ClockWarpError,
    WarpedClock,
    launch_command,
    under_warp,
    warped_parameters,
)
from harness.targets.readiness import CommandSucceeds, TargetStartError
from harness.targets.records import LogRecord, QueuedMessage
from harness.targets.routes import Hop, Resolver, RouteTable
from harness.targets.time_scaling import TimeScaling
from harness.waiting import wait_until

#: The name sender MTAs use for themselves, and the domain their bounces go to.
SENDER_HOSTNAME = "sender.mailstorm.test"
BOUNCE_DOMAIN = "bounces.mailstorm.test"


class TargetError(MailstormError):
    """A command inside a target failed, or the target is used before it started."""


class CompressionArtifactError(TargetError):
    """The compression shaped a case (`SenderTarget.compression_artifacts`): no cell from it."""


@dataclass(frozen=True)
class Submission:
    """A message handed to the target, with what is needed to follow it."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    wall: float  #: Unix time of the submission (host clock)
    mono: float  #: monotonic time of the submission, comparable with the receiver's journal
    size: int


class SenderTarget(ContainerService):
    """A sender MTA in a container, routed to the receiver and running on a scaled clock."""

    #: The target's folder under harness/targets/ and the registry key.
    name: ClassVar[str]
    error_type: ClassVar[type[MailstormError]] = TargetError
    start_error_type: ClassVar[type[MailstormError]] = TargetStartError
    #: The command that exits 0 once the MTA accepts submissions.
    ready_command: ClassVar[list[str]]
    #: Clock-warp factor to use when none is given (None: this MTA cannot run warped).
    default_warp_factor: ClassVar[float | None] = None
    #: True for an MTA whose retry schedule is hard-coded (OpenSMTPD's `400 s x n²`): dividing
    #: its settings by k would leave the schedule k times too slow, so it always runs its stock
    #: configuration on the warped clock, at whatever time scale it is given (> 1).
    warp_only: ClassVar[bool] = False
    #: True for an MTA whose scenarios each need an address of their own (port 25), given by
    #: harness/cases/mx_site.py: OpenSMTPD keeps per-destination state by IP address, not by
    #: address and port (a refused connection disables the route to the host for all its ports,
    #: mta.c `mta_route_down`), so one scenario's refusals would block its neighbours; Sendmail
    #: reaches a port only through a mailer of its own and takes at most 25 mailers.
    state_per_address: ClassVar[bool] = False
    #: True for a relay with one smarthost for all its mail (nullmailer's `remotes`): the
    #: scenarios cannot share a container, each needs its own receiver as the smarthost, so the
    #: matrix gives every scenario a container of its own (harness/matrix/runner.py).
    single_smarthost: ClassVar[bool] = False
    #: Extra environment for the daemon under a clock warp (`launch_command`).
    warp_environment: ClassVar[Mapping[str, str]] = {}
    #: False for a sender that holds nothing (the no-queue control column): a failure ends
    #: the message, with no retry and no DSN, so the contract it is tested on is that one.
    queues: ClassVar[bool] = True
    #: Why the sender's DNS/MX scenarios do not apply to it, for a relay that sends every
    #: message to one configured smarthost (msmtp): it looks up no MX, so such a
    #: scenario would measure the smarthost, another MTA; its cells say so (verdict n/a).
    #: None: the sender resolves the recipient's domain itself.
    dns_not_applicable: ClassVar[str | None] = None
    #: Why a session limit cannot apply to the sender, for one that delivers one message at a
    #: time (nullmailer): it never opens the second session the limit refuses, so the fault
    #: would never fire; its cells say so (verdict n/a). None: it may open sessions side by side.
    one_session_at_a_time: ClassVar[str | None] = None
    #: Why a recipient limit cannot apply to the sender, for one that sends every recipient
    #: in a transaction of its own (dma): a "452 4.5.3 too many recipients" never fires; its
    #: cells say so (verdict n/a). None: it may give one transaction several recipients.
    one_recipient_per_transaction: ClassVar[str | None] = None
    #: Why the sender's bounce is no RFC 3464 report, for one that writes a plain notice (dma's
    #: text/plain "Mail delivery failed"): the contract tests then ask for that notice, and
    #: the conformance checks judge its form. None: it sends a delivery-status report.
    plain_bounce: ClassVar[str | None] = None
    #: Settings timed with alarm(), which libfaketime keeps in whole seconds.
    alarm_parameters: ClassVar[tuple[str, ...]] = ()
    #: Under a clock warp, preload the exact alarm() before libfaketime (clock_warp.py), so
    #: the `alarm_parameters` keep their fractions of a wall second instead of being truncated
    #: (and cancelled under one second). Each target says why it needs it, or why not.
    exact_alarm: ClassVar[bool] = False
    #: The MTA's shortest wait for a reply, in its own seconds, when it is short enough for the
    #: harness's wall-clock latency to exhaust it under a clock warp (Haraka: 30 s, 10 ms of
    #: wall time at x2880): a warped case in which the sender gave a session up that long after
    #: the receiver's last reply, no stall running, is an error (harness/ledger/
    #: latency_timeouts.py). None: its timeouts are minutes, far from any wall latency x K.
    reply_timeout: ClassVar[float | None] = None
    #: True for an MTA that counts each retry delay from the end of the previous attempt
    #: (Haraka's temp-fail timer queue), not from the message's arrival or a queue run's clock:
    #: under a warp every attempt's wall cost, times K, moves all later attempts, so the ± on
    #: a warped case's times is one attempt's cost times the attempts before the last
    #: (harness/ledger/clock_check.py, `case_warp_uncertainty`).
    chained_delays: ClassVar[bool] = False
    #: Wall seconds by which the MTA's own clock handling can move a retry from where its
    #: scaled schedule puts it: whole-second times and comparison slack. Each MTA states its
    #: source; k times this is the ± on a measured retry time (`retry_uncertainty`).
    retry_clock_slack: ClassVar[float] = 1.0
    #: The configuration fragment a user target of this driver brings (`main.cf`); None: this
    #: driver takes no user configuration (harness/targets/user_target.py)
    user_config_file: ClassVar[str | None] = None
    #: A user target's settings, applied over the stock configuration; empty for a bundled one
    user_settings: ClassVar[Mapping[str, str]] = {}
    #: A user target's folder; None for a bundled one
    user_folder: ClassVar[Path | None] = None

    def __init__(
        self,
        routes: RouteTable,
        *,
        time_scale: float = 1.0,
        bounce_domain: str = BOUNCE_DOMAIN,
        hostname: str = SENDER_HOSTNAME,
        image: str | None = None,
        startup_timeout: float = 60.0,
        clock_warp: bool = False,
        resolver: Resolver | None = None,
        network: str | None = None,
    ) -> None:
        if time_scale <= 0:
            raise TargetError(f"time scale must be > 0, got {time_scale}")
        if self.warp_only and time_scale > 1:
            clock_warp = True  # its schedule is hard-coded: only its clock can be compressed
        if clock_warp and time_scale <= 1:
            raise TargetError(f"a clock warp needs a time scale > 1, got {time_scale:g}")
        routes.require(bounce_domain, "the DSNs this MTA sends would be lost")
        super().__init__(hostname=hostname, image=image)
        self.routes = routes
        #: DNS for `resolver.domains` through the harness DNS; None: static routes only
        self.resolver = resolver
        #: the Docker network to join (the MX network of the group's own addresses), if any
        self.network = network
        if resolver is not None:
            self.network = resolver.network
            for domain in resolver.domains:
                if domain.lower() in routes.domains():
                    raise TargetError(f"{domain} has a static route and is to be looked up")
        self.time_scale = time_scale
        #: stock configuration on a clock k times faster, instead of settings divided by k
        self.clock_warp = clock_warp
        self.clock: WarpedClock | None = None  #: the fast clock, once measured
        self.bounce_domain = bounce_domain
        self.startup_timeout = startup_timeout
        self.version = ""
        self.package_version = ""
        self.scaling = TimeScaling(time_scale, ())

    # -- what each MTA provides ---------------------------------------------------------------

    @property
    def config_scale(self) -> float:
        """What the MTA's settings are divided by: k, or 1 (stock) under a clock warp."""
        return 1.0 if self.clock_warp else self.time_scale

    @abstractmethod
    def scale_time(self) -> TimeScaling:
        """Read the MTA's defaults in the container and compute the parameters scaled by
        `config_scale`."""

    @abstractmethod
    def configure(self) -> None:
        """Write routes, time parameters and logging into the container's MTA configuration."""

    def start_mta(self) -> None:
        """Start the MTA daemon (the container is up and configured): by default its
        `foreground_command`, detached, on the real clock (nullmailer, OpenSMTPD, dma); an MTA
        with a daemon mode of its own overrides it."""
        self.container.get_wrapped_container().exec_run(self.foreground_command(), detach=True)

    def foreground_command(self) -> list[str]:
        """The MTA daemon in the foreground, for running it under a clock warp."""
        raise TargetError(f"{self.name} cannot run under a clock warp")

    @abstractmethod
    def queue(self) -> list[QueuedMessage]:
        """The messages the MTA still holds."""

    @abstractmethod
    def parse_log_line(self, line: str) -> LogRecord | None:
        """One log line as a record (None for lines that are not log records)."""

    @abstractmethod
    def first_retry_window(self) -> tuple[float, float] | None:
        """Earliest and latest first retry after a temporary failure, in real seconds, as this
        target's scaled configuration implies (the suites check the MTA keeps to it); None for
        a sender that never retries."""

    @property
    def slack_wall_seconds(self) -> float:
        """`retry_clock_slack` in wall seconds: the MTA's whole seconds are wall seconds under
        scaled configuration and 1/K of one under a clock warp of K (its own clock's seconds)."""
        return self.retry_clock_slack / (self.time_scale if self.clock_warp else 1.0)

    def earliest_real_seconds(self, parameter: ScaledParameter) -> float:
        """The soonest the MTA acts on a configured time, in real seconds: the configured value
        less its whole-second slack (`slack_wall_seconds`), never below zero, times k."""
        return max(0.0, parameter.configured_seconds - self.slack_wall_seconds) * (
            parameter.time_scale
        )

    def stock_retry_floor(self) -> tuple[float, str] | None:
        """The shortest wait after a temporary failure that this MTA's *stock* configuration
        allows, in real seconds, and the setting it comes from (for people); None when the
        target does not know it, and then interval checks judge the measurement alone."""
        return None

    def stock_give_up(self) -> tuple[float, str] | None:
        """How long after its first failure this MTA's *stock* configuration keeps a message
        before it may give up, in real seconds, and the setting it comes from; None when the
        target does not know it (then the give-up checks judge the measurement alone)."""
        return None

    def give_up_window(self) -> tuple[float, float] | None:
        """Earliest and latest give-up after the first failure, in real seconds, as this run's
        configuration implies (the give-up comes at the first attempt or queue run after the
        limit); None when the target does not know it."""
        return None

    def retry_uncertainty(self) -> float | None:
        """± real seconds on a time this MTA's retry clock decides, under scaled configuration.

        One wall second of whole-second rounding is k real seconds, so the same slack that is
        nothing at stock settings is two minutes at k = 60 and 48 minutes at k = 1440. Under
        a clock warp the MTA's own seconds are exact, and what moves a retry is the real time
        each step costs, times K: that is measured per schedule run, not here (None).
        """
        if self.clock_warp:
            return None
        return self.time_scale * self.retry_clock_slack

    def compression_artifacts(self, message_ids: Collection[str]) -> tuple[str, ...]:
        """What the compression itself did to these messages, read from the MTA's own record.

        A time scale cannot shorten an MTA's hard-coded real-time constants, and a behaviour
        that never happens at stock settings can happen at scaled ones. When one did, the
        message's schedule from then on is the harness's, not the MTA's, and the case is an
        error. Each MTA knows its own; none by default.
        """
        return ()

    def submit_command(self, sender: str, recipients: Sequence[str]) -> list[str]:
        """The local submission command; the message comes on its standard input."""
        return ["/usr/sbin/sendmail", "-oi", "-f", sender, "--", *recipients]

    @classmethod
    def parse_user_config(cls, text: str, *, source: str) -> dict[str, str]:
        """A user target's configuration fragment as settings; errors name `source` and the
        line. Drivers that take user configuration override this."""
        raise TargetMetadataError(f"{source}: target {cls.name} takes no user configuration")

    @classmethod
    def folder(cls) -> Path:
        """The target's folder: the package its driver lives in (`harness/targets/postfix/`)."""
        return Path(str(files(cls.__module__.rsplit(".", 1)[0])))

    @classmethod
    def metadata(cls) -> TargetMetadata:
        """The folder's `target.toml`: what the image is and how to read its version."""
        return load_target_metadata(cls.folder())

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def service_name(self) -> str:
        return self.name

    def build_image(self) -> str:
        """The bundled image, or a user target's own image on top of it: a `Dockerfile` in
        its folder (`ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}`: the bundled image it extends)."""
        bundled = super().build_image()
        if self.user_folder is None or not (self.user_folder / "Dockerfile").is_file():
            return bundled
        return ensure_derived_image(self.name, self.user_folder, bundled)

    def image_metadata(self) -> TargetMetadata:
        return self.metadata()

    def bring_up(self) -> None:
        """Read the versions, configure the MTA, start it (under a warp or not), wait for it."""
        started = time.monotonic()
        if self.resolver is not None:
            # Docker writes it at start (on a user-defined network: its own resolver, which
            # would stand between the MTA and the harness DNS): replaced, not appended to.
            write = 'printf "%s\\n" "$@" > /etc/resolv.conf'
            self.exec(["sh", "-c", write, "sh", *self.resolver.resolv_conf()])
        self._read_versions()
        self.scaling = self.scale_time()
        self.configure()
        if self.clock_warp:
            truncated = () if self.exact_alarm else self.alarm_parameters
            self.scaling = warped_parameters(self.scaling, self.time_scale, truncated)
            self._start_warped()
        else:
            self.start_mta()
        self.timings["configure"] = time.monotonic() - started
        started = time.monotonic()
        ready = CommandSucceeds(self.ready_command, timeout=self.startup_timeout)
        ready.wait_until_ready(self.container)
        self.timings["ready"] = time.monotonic() - started

    def _start_warped(self) -> None:
        """Start the daemon under the shared fast clock and measure that clock."""
        container = self.container.get_wrapped_container()
        command = launch_command(
            self.time_scale,
            self.foreground_command(),
            exact_alarm=self.exact_alarm,
            environment=self.warp_environment,
        )
        container.exec_run(command, detach=True)
        wait_until(
            lambda: (
                self.exec(f"test -s {ENVIRONMENT_FILE} && echo ok", check=False).strip() == "ok"
            ),
            timeout=self.startup_timeout,
            what=f"{self.name}'s fast clock ({ENVIRONMENT_FILE})",
            seen=lambda: self.exec("ls -l /dev/shm; ps -ef", check=False),
        )
        self.clock = self._measure_clock()

    def _measure_clock(self, samples: int = 5) -> WarpedClock:
        """Read the fast clock from inside the container a few times; keep the tightest."""
        readings = []
        for _ in range(samples):
            before = time.time()
            output = self.exec(under_warp("date +%s.%N"))
            after = time.time()
            try:
                readings.append((after - before, (before + after) / 2, float(output.strip())))
            except ValueError as error:
                raise ClockWarpError(f"{self.name}: unreadable fast clock: {output!r}") from error
        tightest = sorted(readings)[: max(2, samples - 2)]
        pairs = sorted((real, fake) for _, real, fake in tightest)
        return WarpedClock.from_readings(self.time_scale, pairs)

    # -- using it -----------------------------------------------------------------------------

    def put_file(self, path: str, content: bytes | str, mode: int = 0o644) -> None:
        """Write a file into the container (its directory must exist)."""
        data = content.encode() if isinstance(content, str) else content
        directory, _, name = path.rpartition("/")
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        if not self.container.get_wrapped_container().put_archive(
            directory or "/", archive.getvalue()
        ):
            raise TargetError(f"{self.name}: could not write {path}")

    def submit(
        self,
        recipients: Sequence[str],
        *,
        message_id: str | None = None,
        subject: str = "mailstorm test message",
        body: str = "This message was sent by mailstorm.\r\n",
        size: int | None = None,
        headers: Mapping[str, str] = {},
    ) -> Submission:
        """Hand a message to the MTA as a local program would; bounces come back to the receiver."""
        if not recipients:
            raise TargetError("a message needs at least one recipient")
        message_id = message_id or new_message_id()
        sender = sender_address(message_id, self.bounce_domain)
        content = build_message(
            message_id, sender, recipients, subject=subject, body=body, size=size, headers=headers
        )
        path = f"/tmp/{message_id}.eml"
        self.put_file(path, content)
        wall, mono = time.time(), time.monotonic()
        command = " ".join(_quote(word) for word in self.submit_command(sender, recipients))
        command = self.on_mta_clock(command)  # postdrop, exim: the message's times on its clock
        self.exec(f"{command} < {path} && rm -f {path}")
        return Submission(message_id, sender, tuple(recipients), wall, mono, len(content))

    def logs(self) -> list[LogRecord]:
        """The MTA's log, parsed; under a clock warp, stamps are converted to real instants."""
        records = [record for line in self.log_lines() if (record := self.parse_log_line(line))]
        if self.clock is None:
            return records
        return [replace(r, time=self.real_time(r.time)) for r in records]

    def on_mta_clock(self, command: str) -> str:
        """A shell command run on the MTA's clock: the fast one under a warp (so what it writes
        or compares with the current time, such as a message's age, is consistent)."""
        return under_warp(command) if self.clock_warp else command

    def log_clock_now(self) -> datetime:
        """Now on the clock the MTA stamps its log with (the fast one under a warp): what
        gives year-less syslog stamps their year (`syslog_time`)."""
        now = datetime.now(UTC)
        if self.clock is None:
            return now
        return datetime.fromtimestamp(self.clock.to_fake(now.timestamp()), UTC)

    def smarthost(self) -> Hop:
        """The one next hop of every routed domain but the bounce domain's, for a relay with
        one smarthost (`single_smarthost`: nullmailer, dma), whose bounces go there too."""
        hops = {hops[0] for domain, hops in self.routes.routes if domain != self.bounce_domain}
        if len(hops) != 1:
            raise TargetError(
                f"{self.name}: relays every message to one smarthost; the routes name "
                f"{len(hops)} next hops ({', '.join(sorted(f'{h.host}:{h.port}' for h in hops))})"
            )
        [hop] = hops
        return hop

    def real_time(self, stamp: datetime | None) -> datetime | None:
        """A time the MTA wrote (log, queue), as a real instant: unchanged without a warp."""
        if stamp is None or self.clock is None:
            return stamp
        return self.clock.real_datetime(stamp)

    def describe(self) -> dict[str, Any]:
        """What a report records about this target."""
        return {
            "name": self.name,
            "version": self.version,
            "package_version": self.package_version,
            "time_scale": self.time_scale,
            "clock_warp": self.clock_warp,
            "parameters": [
                {
                    "name": p.name,
                    "default_seconds": p.default_seconds,
                    "configured_seconds": p.configured_seconds,
                    "effective_real_seconds": p.effective_real_seconds,
                    "early_seconds": p.early_seconds,
                    "exact": p.exact,
                    "note": p.note,
                }
                for p in self.scaling.parameters
            ],
        }

    # -- helpers --------------------------------------------------------------------------------

    def _read_versions(self) -> None:
        metadata = self.metadata()
        output = self.exec(list(metadata.version_command))
        self.version = metadata.parse_version(output) or output.strip().splitlines()[0]
        package = self.exec(["dpkg-query", "-W", "-f", "${Version}", metadata.package], check=False)
        self.package_version = package.strip()


def build_message(
    message_id: str,
    sender: str,
    recipients: Sequence[str],
    *,
    subject: str,
    body: str,
    size: int | None = None,
    headers: Mapping[str, str] = {},
) -> bytes:
    """An RFC 5322 message carrying the harness id; padded with body lines to `size` bytes."""
    lines = [
        f"From: mailstorm <{sender}>",
        f"To: {', '.join(recipients)}",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: <{message_id}@mailstorm.test>",
        f"{HEADER}: {message_id}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
    ]
    content = ("\r\n".join(lines) + "\r\n" + body).encode()
    line = b"x" * 76 + b"\r\n"
    if size is not None and len(content) < size:
        content += line * -(-(size - len(content)) // len(line))  # whole lines, at least `size`
    return content


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\"'\"'") + "'"
