"""Sendmail as a sender target, Debian's configuration on the warped clock.

Sendmail has no per-message retry schedule: its daemon forks a queue runner every queue
interval (`-q10m`, Debian's QUEUE_INTERVAL in /etc/mail/sendmail.conf), and each run tries every
queued message (no MinQueueAge in Debian's sendmail.mc), so a deferred message is retried at
the next run, 0 to 10 minutes after it failed. It warns after `Timeout.queuewarn` (4h) and
returns the message at the first attempt after `Timeout.queuereturn` (5d). Scaling that by
configuration would make the 10-minute interval 0.42 s at k = 1440, which whole seconds cannot
hold, and the interval *is* the schedule; so this target runs Debian's configuration unchanged
on the warped clock (`warp_only`, docs/clock-warp.md).

Sendmail times its events (the daemon's queue runs, its SMTP timeouts) with alarm(), and its
SIGALRM handler reads the clock to find the events due (libsm/clock.c, `sm_tick`). libfaketime
waits in select() and nanosleep() with its faking switched off (`DONT_FAKE_TIME`), so a tick
that came during the daemon's select() read the real clock, found nothing due and re-armed:
measured, no queue run at all after the first. The exact-alarm library, preloaded before
libfaketime, waits on the fast clock itself when MAILSTORM_WARP_WAITS is set
(build_files/mailstorm-alarm.c).

Routes go into a mailertable (`domain mailer:[address]`: brackets, so no MX lookup). A
mailertable entry names no port, and a mailer has one (`A=TCP $h port`): port 25 is Debian's
`esmtp` mailer, and any other port gets a copy of it with that port. Sendmail allows at most 25
mailers (MAXMAILERS, conf.h), fewer than a matrix group has scenarios, so its scenarios each get
an address of their own on port 25 (`state_per_address`), as OpenSMTPD's do; only the DSN
receiver and hand-made routes use other ports. Sendmail logs only
through syslog(3): busybox's syslogd writes it to a file, stamped in whole seconds when it
receives each line, so under a warp it runs on the fast clock too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from harness.durations import format_duration
from harness.message_ids import id_from_address
from harness.targets.base import SenderTarget, TargetError
from harness.targets.records import (
    REFUSED_FIELD,
    LogRecord,
    QueuedMessage,
    QueuedRecipient,
)
from harness.targets.routes import Hop
from harness.targets.syslog_time import syslog_time
from harness.targets.time_scaling import MTA_TIME_UNITS, TimeScaling, scale_whole_seconds

MC_FILE = "/etc/mail/sendmail.mc"
CF_FILE = "/etc/mail/sendmail.cf"
MAILERTABLE = "/etc/mail/mailertable"
#: Debian's settings for the init script: the daemon's queue interval (QUEUE_INTERVAL).
DEBIAN_SETTINGS = "/etc/mail/sendmail.conf"
PID_FILE = "/run/sendmail/mta/sendmail.pid"
QUEUE_DIRECTORY = "/var/spool/mqueue"
#: busybox's syslogd, in the background, never rotating the file.
SYSLOGD = "busybox syslogd -t -s 0 -O {log}"
#: The names the scaling reports, and the cf options they come from.
QUEUE_INTERVAL = "queue_interval"
QUEUE_WARN = "Timeout.queuewarn"
QUEUE_RETURN = "Timeout.queuereturn"
#: The connect timeout Debian leaves unset: 0, the kernel's own (see `_kernel_connect_timeout`).
CONNECT = "Timeout.connect"
#: How much later than its queue run a retry's session can come, in Sendmail seconds: the run
#: lists and sorts the queue, then tries the messages one after another.
RUN_LATENESS = 30.0
#: The mailer copied once per receiver port (Debian's sendmail.mc: MAILER(`smtp')).
TEMPLATE_MAILER = "esmtp"
SMTP_PORT = 25
#: Mailers this target may add: Sendmail's MAXMAILERS is 25, and Debian's configuration defines
#: prog, *file*, *include*, local, smtp, esmtp, smtp8, dsmtp and relay.
MAX_OWN_MAILERS = 12
_TIME_PART = re.compile(r"(\d+)([smhdw]?)")
_LOG_LINE = re.compile(
    r"^(?P<time>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (?:\S+\.\S+ )?(?P<process>sm-\w+|sendmail)"
    r"\[\d+\]: (?:(?P<queue_id>[0-9A-Za-z]{14}): )?(?P<text>.*)$"
)
_FIELD = re.compile(r"(?:^|, )([\w-]+)=(<[^>]*>|[^,]*)")
_DEFERRED = "Deferred"
REFUSED = "Connection refused"


def sendmail_seconds(value: str, default_unit: str = "s") -> float:
    """A Sendmail time value (`10m`, `5d`, `1h30m`; a bare number in `default_unit`)."""
    text = value.strip().strip('"')
    parts = _TIME_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise TargetError(f"not a Sendmail time value: {value!r}")
    return float(sum(int(number) * MTA_TIME_UNITS[unit or default_unit] for number, unit in parts))


def cf_option(cf: str, name: str) -> str | None:
    """The value of option `name` in a sendmail.cf (`O name=value`); None when it is unset."""
    found = re.search(rf"^O {re.escape(name)}=(.*)$", cf, re.MULTILINE)
    return found.group(1).strip() if found else None


def with_option(cf: str, name: str, value: str) -> str:
    """`cf` with option `name` set to `value`: its commented default replaced, or added after
    the queue directory."""
    line = f"O {name}={value}"
    commented = re.compile(rf"^#?O {re.escape(name)}=.*$", re.MULTILINE)
    if commented.search(cf):
        return commented.sub(line, cf, count=1)
    anchor = re.search(r"^O QueueDirectory=.*$", cf, re.MULTILINE)
    if anchor is None:
        raise TargetError(f"{CF_FILE} has no QueueDirectory option to set {name} beside")
    return cf[: anchor.end()] + f"\n{line}" + cf[anchor.end() :]


def kernel_connect_timeout(syn_retries: int) -> int:
    """Seconds Linux tries to connect before it gives up: the first SYN, then `syn_retries`
    more, the wait doubling from one second (TCP_TIMEOUT_INIT): 127 s for the default 6."""
    return int(2 ** (syn_retries + 1)) - 1


def port_mailer(port: int) -> str:
    """The name of the mailer that connects to `port`: Debian's own for SMTP's port."""
    return TEMPLATE_MAILER if port == SMTP_PORT else f"mstorm{port}"


def with_port_mailers(cf: str, ports: list[int]) -> str:
    """`cf` with a copy of the `esmtp` mailer for each port but 25, connecting to that port."""
    other = sorted(set(ports) - {SMTP_PORT})
    if len(other) > MAX_OWN_MAILERS:
        raise TargetError(
            f"{len(other)} receiver ports besides 25, and Sendmail takes at most 25 mailers "
            f"(MAXMAILERS): give its scenarios addresses of their own on port 25"
        )
    found = re.search(rf"^M{TEMPLATE_MAILER},.*?A=TCP \$h$", cf, re.MULTILINE | re.DOTALL)
    if found is None:
        raise TargetError(f"{CF_FILE} has no {TEMPLATE_MAILER} mailer with `A=TCP $h`")
    template = found.group(0)
    copies = [
        template.replace(f"M{TEMPLATE_MAILER},", f"M{port_mailer(port)},", 1)[: -len("$h")]
        + f"$h {port}"
        for port in other
    ]
    return cf[: found.end()] + "".join(f"\n{copy}" for copy in copies) + cf[found.end() :]


def mailertable_host(hop: Hop) -> str:
    """A hop as a mailertable host: bracketed, so Sendmail looks up no MX."""
    return f"[IPv6:{hop.host}]" if ":" in hop.host else f"[{hop.host}]"


class SendmailTarget(SenderTarget):
    name = "sendmail"
    log_path = "/var/log/mail.log"
    ready_command: ClassVar[list[str]] = [
        "sh",
        "-c",
        f'kill -0 "$(head -1 {PID_FILE} 2>/dev/null)" 2>/dev/null',
    ]
    warp_only: ClassVar[bool] = True
    #: One address per scenario, so all of them fit Debian's `esmtp` mailer (module doc).
    state_per_address: ClassVar[bool] = True
    #: The preload library whose waits keep the fast clock in signal handlers (module doc).
    exact_alarm: ClassVar[bool] = True
    warp_environment: ClassVar[Mapping[str, str]] = {"MAILSTORM_WARP_WAITS": "1"}
    #: 5 days in 150 s of wall time; a 10-minute queue run every 0.21 s.
    default_warp_factor: ClassVar[float | None] = 2880.0
    #: Sendmail compares a message's age in whole seconds of time() (queue.c, e_ctime).
    retry_clock_slack: ClassVar[float] = 1.0

    def scale_time(self) -> TimeScaling:
        """Debian's queue interval and queue timeouts, read in the image."""
        cf = self.exec(["cat", CF_FILE])
        settings = self.exec(["cat", DEBIAN_SETTINGS])
        interval = re.search(r'^QUEUE_INTERVAL="?([^";\n]*)', settings, re.MULTILINE)
        if interval is None:
            raise TargetError(f"{DEBIAN_SETTINGS} sets no QUEUE_INTERVAL")
        values = {QUEUE_INTERVAL: sendmail_seconds(interval.group(1), default_unit="m")}
        for name in (QUEUE_WARN, QUEUE_RETURN):
            value = cf_option(cf, name)
            if value is None:
                raise TargetError(f"{CF_FILE} sets no {name}")
            values[name] = sendmail_seconds(value)
        return TimeScaling(
            self.config_scale,
            tuple(
                scale_whole_seconds(name, seconds, self.config_scale)
                for name, seconds in values.items()
            ),
        )

    def _kernel_connect_timeout(self) -> int:
        """The kernel's connect timeout in the container (its `tcp_syn_retries`), in seconds.

        Debian sets no `Timeout.connect` (0: the kernel decides), so a connection to a host
        that drops packets waits out the kernel's SYN retries: 127 s of *wall* time, which the
        warp does not reach, so k x 127 s of Sendmail's time: at x60 two hours an attempt.
        Under a warp the same 127 s become Sendmail's own timeout, on its clock. (No bundled
        scenario drops SYNs: its blackholes accept and never greet, which `Timeout.initial`,
        Sendmail's own timer, ends.)"""
        retries = self.exec(["cat", "/proc/sys/net/ipv4/tcp_syn_retries"]).strip()
        return kernel_connect_timeout(int(retries) if retries.isdigit() else 6)

    @property
    def queue_interval(self) -> int:
        """Sendmail seconds between queue runs (the daemon's `-q<N>s`)."""
        return int(self.scaling.get(QUEUE_INTERVAL).configured_seconds)

    def configure(self) -> None:
        mc = self.exec(["cat", MC_FILE])
        additions = (
            "FEATURE(`mailertable')dnl\n"
            # Addresses are not canonified through DNS: the routes are addresses, and there
            # is no DNS but the harness's.
            "FEATURE(`nocanonify')dnl\n"
            f"define(`confDOMAIN_NAME', `{self.hostname}')dnl\n"
        )
        if "MAILER_DEFINITIONS" not in mc:
            raise TargetError(f"{MC_FILE} has no MAILER_DEFINITIONS line")
        mc = mc.replace("MAILER_DEFINITIONS", additions + "MAILER_DEFINITIONS", 1)
        self.put_file(MC_FILE, mc)
        self.exec(f"m4 {MC_FILE} > {CF_FILE}.new")
        cf = self.exec(["cat", f"{CF_FILE}.new"])
        ports = [hops[0].port for _, hops in self.routes.routes]
        cf = with_port_mailers(cf, ports)
        if self.clock_warp and not sendmail_seconds(cf_option(cf, CONNECT) or "0"):
            cf = with_option(cf, CONNECT, f"{self._kernel_connect_timeout()}s")
        self.put_file(CF_FILE, cf)
        table = "".join(
            f"{domain} {port_mailer(hops[0].port)}:{mailertable_host(hops[0])}\n"
            for domain, hops in self.routes.routes
        )
        self.put_file(MAILERTABLE, table)
        self.exec(f"makemap hash {MAILERTABLE} < {MAILERTABLE}")
        self.exec("mkdir -p /run/sendmail/mta")
        for domain in self.routes.domains():
            checked = self.exec(["sendmail", "-bv", f"route-check@{domain}"], check=False)
            if "sendmail.cf: line" in checked or "deliverable" not in checked:
                raise TargetError(f"{self.name}: {domain} does not route: {checked.strip()}")

    def start_mta(self) -> None:
        self.exec(SYSLOGD.format(log=self.log_path))
        self.exec(["sendmail", "-bd", f"-q{self.queue_interval}s"])

    def foreground_command(self) -> list[str]:
        """The syslog daemon and Sendmail's, both on the clock this runs on."""
        stock = self.scaling.get(QUEUE_INTERVAL).default_seconds
        daemon = f"sendmail -bD -q{stock:g}s"
        return ["sh", "-c", f"{SYSLOGD.format(log=self.log_path)} && exec {daemon}"]

    def submit_command(self, sender: str, recipients: Sequence[str]) -> list[str]:
        """`-Am`: the MTA's configuration, as root submits; the process queues the message
        and delivers it in the background (Debian's DeliveryMode=background)."""
        return ["/usr/sbin/sendmail", "-Am", "-oi", "-f", sender, "--", *recipients]

    # -- schedule -------------------------------------------------------------------------------

    def first_retry_window(self) -> tuple[float, float]:
        """The next queue run after the failure: at once, or up to one interval later, and
        the run's own listing and earlier messages make it up to RUN_LATENESS later."""
        interval = self.scaling.get(QUEUE_INTERVAL)
        return 0.0, interval.default_seconds + RUN_LATENESS

    def stock_retry_floor(self) -> tuple[float, str]:
        """No minimum: a queue run that starts right after the failure retries the message."""
        interval = self.scaling.get(QUEUE_INTERVAL).default_seconds
        return 0.0, (
            f"the next queue run (QUEUE_INTERVAL = {format_duration(interval)}, Debian's "
            "sendmail.conf), with no MinQueueAge: 0 to "
            f"{format_duration(interval)} after the failure"
        )

    def stock_give_up(self) -> tuple[float, str]:
        seconds = self.scaling.get(QUEUE_RETURN).default_seconds
        return seconds, f"Timeout.queuereturn = {format_duration(seconds)}, Debian's sendmail.mc"

    def give_up_window(self) -> tuple[float, float]:
        """The first queue run after `Timeout.queuereturn` returns the message."""
        nominal = self.scaling.get(QUEUE_RETURN).default_seconds
        interval = self.scaling.get(QUEUE_INTERVAL).default_seconds
        return nominal - self.retry_clock_slack, nominal + interval + RUN_LATENESS

    # -- queue and log --------------------------------------------------------------------------

    def queue(self) -> list[QueuedMessage]:
        """The queue files (`qf<id>`: `T` creation time, `N` tries, `M` the last status, `S`
        the sender, `R<flags>:<address>` each recipient still to deliver)."""
        listing = self.exec(
            f'for f in {QUEUE_DIRECTORY}/qf*; do [ -f "$f" ] && echo "@@ $f" && cat "$f"; '
            "done; true"
        )
        messages = []
        for chunk in listing.split("@@ ")[1:]:
            path, _, body = chunk.partition("\n")
            lines = body.splitlines()
            first = {line[0]: line[1:] for line in reversed(lines) if line}
            status = first.get("M", "")
            created = first.get("T", "")
            tries = first.get("N", "0")
            sender = first.get("S", "").strip("<>")
            recipients = tuple(
                QueuedRecipient(line.partition(":")[2].strip("<>"), status)
                for line in lines
                if line.startswith("R")
            )
            messages.append(
                QueuedMessage(
                    queue_id=path.rsplit("/qf", 1)[-1],
                    sender=sender,
                    recipients=recipients,
                    status="deferred" if tries.isdigit() and int(tries) > 0 else "queued",
                    arrival=self.real_time(datetime.fromtimestamp(int(created), UTC))
                    if created.isdigit()
                    else None,
                    next_attempt=None,  # the next queue run, whenever the daemon forks it
                    message_id=id_from_address(sender),
                )
            )
        return messages

    def parse_log_line(self, line: str) -> LogRecord | None:
        found = _LOG_LINE.match(line)
        if found is None:
            return None
        text = found.group("text")
        head, stat_mark, stat = text.partition(", stat=")
        if not stat_mark and text.startswith("stat="):
            head, stat = "", text[len("stat=") :]
        fields = {key: value.strip().strip("<>") for key, value in _FIELD.findall(head)}
        if stat:
            fields["stat"] = stat
            if stat.startswith("Sent"):
                fields["status"] = "sent"
            elif stat.startswith(_DEFERRED):
                fields["status"] = "deferred"
                fields["reason"] = stat.partition(": ")[2] or stat
            elif fields.get("dsn", "").startswith("5."):
                fields["status"] = "bounced"
                fields["reason"] = stat
            else:
                # `stat=queued`: put in the queue without a delivery attempt (no relay, a 4.x
                # dsn), neither a deferral of an attempt nor a bounce
                fields["status"] = stat.split(" ", 1)[0].lower()
                fields["reason"] = stat
            if REFUSED in stat:
                name, value = REFUSED_FIELD
                fields[name] = value
        return LogRecord(
            time=syslog_time(found.group("time"), self.log_clock_now()),
            process=found.group("process"),
            queue_id=found.group("queue_id"),
            text=text,
            fields=fields,
            raw=line,
        )
