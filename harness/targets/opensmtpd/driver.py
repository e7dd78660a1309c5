"""OpenSMTPD as a sender target, always on the warped clock.

OpenSMTPD's retry schedule is compiled in: the ramqueue scheduler tries an envelope again at
`creation + 400 s x n²` for its n-th retry (scheduler_ramqueue.c, `BACKOFF_TRANSFER = 400`,
`scheduler_backoff`), so 6m40s, 26m40s, 1h, 1h46m40s, ... after it was queued. Only the give-up
(`queue ttl`, 4 days, smtpd.h `SMTPD_QUEUE_EXPIRY`) and the delay warning (`bounce
warn-interval`, 4 hours, config.c) are settings. Dividing those by k would leave the retries
k times too slow, so this target runs Debian's stock configuration on a clock k times faster
(`warp_only`, docs/clock-warp.md), at whatever time scale a matrix tier gives it.

Routes are `relay host smtp://ip:port` actions matched per domain; the domains a resolver
looks up are relayed by MX (`action relay` with no host). OpenSMTPD keeps its route state per
host address, not per port (a refused connection disables the route to that address for all
ports, mta.c `mta_route_down`), so its scenarios each get an address of their own
(`state_per_address`).

smtpd runs in the foreground (`smtpd -d`), which logs to stderr without stamps;
`mailstorm-stamp` (a shared build file) prefixes each line with the clock it runs on. The queue is
`smtpctl show queue`: one line per envelope, grouped here by message id.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar

from harness.durations import format_duration
from harness.message_ids import id_from_address
from harness.targets.base import SenderTarget, TargetError
from harness.targets.records import (
    HELD_FIELD,
    REFUSED_FIELD,
    LogRecord,
    QueuedMessage,
    QueuedRecipient,
)
from harness.targets.time_scaling import TimeScaling, scale_whole_seconds

CONFIG_FILE = "/etc/smtpd.conf"
#: The daemon in the foreground, its stderr stamped into the log file.
DAEMON = "smtpd -d 2>&1 | /usr/local/bin/mailstorm-stamp >> {log}"
#: OpenSMTPD's times, in seconds: the two settings at their defaults, and the compiled-in
#: retry base (scheduler_ramqueue.c), which is reported like a setting so its wall time shows.
QUEUE_TTL = ("queue_ttl", 4 * 86400.0)
WARN_INTERVAL = ("bounce_warn_interval", 4 * 3600.0)
RETRY_BASE = ("backoff_transfer", 400.0)
#: The parent waits for each child's setup handshake with poll(10 s) (smtpd.c, imsg_wait); on
#: the fast clock that would be milliseconds (mailstorm-alarm.c keeps it a wall wait).
SETUP_POLL_MS = "10000"
#: How much later than its scheduled time a retry's session can come, in OpenSMTPD seconds:
#: the dispatcher's connector checks a route every 1 to 10 s (mta.c, DELAY_CHECK_SOURCE,
#: DELAY_CHECK_SOURCE_SLOW) and the session's connect, greeting and EHLO take some more.
#: Measured at x1440: the delivery line's `delay=` is 10 to 14 s past the schedule.
CONNECTOR_LATENESS = 60.0
#: The stat of an envelope deferred for a connection failure (or a route down after one).
NETWORK_ERROR = "Network error on destination MXs"
REFUSED = "Connection refused"
_STAMPED = re.compile(r"^(?P<stamp>\d+\.\d+) (?P<line>.*)$")
_SESSION_LINE = re.compile(r"^(?P<session>[0-9a-f]{16}) (?P<process>\w+) (?P<text>.*)$")
_FIELD = re.compile(r'([\w-]+)=("(?:[^"\\]|\\.)*"|<[^>]*>|\S+)')
_STATUS = {"Ok": "sent", "TempFail": "deferred", "PermFail": "bounced", "Loop": "bounced"}
_CONNECTING = re.compile(
    r"^connecting address=\w[\w+]*://\[?(?P<address>[^\]/ ]+?)\]?:(?P<port>\d+) "
)
#: An MX host's port (a relay looked up by MX has no other).
SMTP_PORT = 25


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class OpenSmtpdTarget(SenderTarget):
    name = "opensmtpd"
    log_path = "/var/log/smtpd.log"
    ready_command: ClassVar[list[str]] = ["smtpctl", "show", "status"]
    warp_only: ClassVar[bool] = True
    state_per_address: ClassVar[bool] = True
    #: The preload library that keeps alarm() exact also keeps the setup poll a wall wait.
    exact_alarm: ClassVar[bool] = True
    warp_environment: ClassVar[Mapping[str, str]] = {"MAILSTORM_WALL_POLL_MS": SETUP_POLL_MS}
    #: 4 days in 2 minutes of wall time, like Exim's.
    default_warp_factor: ClassVar[float | None] = 2880.0
    #: The scheduler compares whole seconds of time() (scheduler_ramqueue.c, currtime).
    retry_clock_slack: ClassVar[float] = 1.0

    def scale_time(self) -> TimeScaling:
        return TimeScaling(
            self.config_scale,
            tuple(
                scale_whole_seconds(name, seconds, self.config_scale)
                for name, seconds in (RETRY_BASE, QUEUE_TTL, WARN_INTERVAL)
            ),
        )

    def configure(self) -> None:
        lines = ["# Written by mailstorm (harness/targets/opensmtpd/driver.py)."]
        for number, (domain, hops) in enumerate(self.routes.routes):
            hop = hops[0]  # one relay host per action; the engine routes each domain to one
            host = f"[{hop.host}]" if ":" in hop.host else hop.host
            lines += [
                f'action "route{number}" relay host "smtp://{host}:{hop.port}"',
                f'match from local for domain "{domain}" action "route{number}"',
            ]
        if self.resolver is not None:
            lines.append('action "mx" relay')
            for domain in self.resolver.domains:
                lines.append(f'match from local for domain "{domain}" action "mx"')
        self.put_file(CONFIG_FILE, "\n".join(lines) + "\n")
        self.exec(["smtpd", "-n", "-f", CONFIG_FILE])

    def foreground_command(self) -> list[str]:
        return ["sh", "-c", DAEMON.format(log=shlex.quote(self.log_path))]

    def first_retry_window(self) -> tuple[float, float]:
        """The first retry is scheduled `backoff_transfer` after the message was queued; the
        connector's checks and the new session make it up to CONNECTOR_LATENESS later."""
        return self._window(RETRY_BASE[0])

    def give_up_window(self) -> tuple[float, float]:
        """The scheduler expires an envelope at `creation + queue ttl`, on its own timer."""
        return self._window(QUEUE_TTL[0])

    def _window(self, name: str) -> tuple[float, float]:
        parameter = self.scaling.get(name)
        nominal = parameter.default_seconds
        return max(0.0, nominal - self.retry_clock_slack), nominal + CONNECTOR_LATENESS

    def stock_retry_floor(self) -> tuple[float, str]:
        seconds = RETRY_BASE[1]
        return seconds, (
            f"creation + {format_duration(seconds)} x n² (BACKOFF_TRANSFER, compiled in, "
            "scheduler_ramqueue.c)"
        )

    def stock_give_up(self) -> tuple[float, str]:
        seconds = QUEUE_TTL[1]
        return seconds, f"queue ttl = {format_duration(seconds)}, OpenSMTPD's default"

    def queue(self) -> list[QueuedMessage]:
        """`smtpctl show queue`, on the MTA's clock: `id|src|agent|flags|sender|rcpt|dest|
        creation|expire|lasttry|retry|runstate|in|error` (smtpctl.c, show_queue_envelope),
        where `in` is the seconds to the next try of a pending envelope."""
        output = self.exec(self.on_mta_clock("date +%s.%N; smtpctl show queue"))
        now_line, _, listing = output.partition("\n")
        try:
            now = float(now_line)
        except ValueError:
            message = f"{self.name}: no clock reading before the queue: {output!r}"
            raise TargetError(message) from None
        messages: dict[str, QueuedMessage] = {}
        for line in listing.splitlines():
            fields = line.split("|", 13)
            if len(fields) < 13:
                continue
            evpid, _, agent, _, sender, recipient = fields[:6]
            creation, runstate, wait = fields[7], fields[11], fields[12]
            error = fields[13] if len(fields) > 13 else ""
            sender = "" if sender == "@" else sender
            queue_id = evpid[:8]
            next_attempt = None
            if runstate == "pending" and wait.lstrip("-").isdigit():
                next_attempt = self.real_time(datetime.fromtimestamp(now + int(wait), UTC))
            known = messages.get(queue_id)
            recipients = (*(known.recipients if known else ()), QueuedRecipient(recipient, error))
            messages[queue_id] = QueuedMessage(
                queue_id=queue_id,
                sender=sender,
                recipients=recipients,
                status="bounce" if agent == "bounce" else runstate,
                arrival=self.real_time(datetime.fromtimestamp(int(creation), UTC)),
                next_attempt=next_attempt,
                message_id=id_from_address(sender),
            )
        return list(messages.values())

    def parse_log_line(self, line: str) -> LogRecord | None:
        stamped = _STAMPED.match(line)
        if stamped is None:
            return None
        found = _SESSION_LINE.match(stamped.group("line"))
        if found is None:
            return None
        text = found.group("text")
        fields = {key: value.strip('"<>') for key, value in _FIELD.findall(text)}
        evpid = fields.get("evpid", "")
        if "result" in fields:
            fields["status"] = _STATUS.get(fields["result"], fields["result"].lower())
            if "stat" in fields:
                fields["reason"] = fields["stat"]
        if "relay" in fields and not _is_address(fields["relay"].split(" ")[0].strip("[]")):
            # A relay that failed as a whole before any connection (an MX lookup that failed,
            # no usable host) is logged with the domain as its relay (mta.c, mta_flush:
            # `mta_delivery_log(e, NULL, relay->domain->name, ...)`): no host was reached, as
            # Postfix says with `relay=none`.
            fields["relay_domain"], fields["relay"] = fields["relay"], "none"
        fields["session"] = found.group("session")
        return LogRecord(
            time=datetime.fromtimestamp(float(stamped.group("stamp")), UTC),
            process=f"opensmtpd/{found.group('process')}",
            queue_id=evpid[:8] or None,
            text=text,
            fields=fields,
            raw=line,
        )

    def logs(self) -> list[LogRecord]:
        """The log, with each deferral that a refused connection caused marked
        `attempt=refused` (`mark_refused_attempts`)."""
        static = {domain: f"{hops[0].host}:{hops[0].port}" for domain, hops in self.routes.routes}
        return mark_refused_attempts(super().logs(), static)


def mark_refused_attempts(
    records: Sequence[LogRecord], static_routes: Mapping[str, str]
) -> list[LogRecord]:
    """`records` with each deferral that a refused connection caused marked `attempt=refused`
    (REFUSED_FIELD) and stamped when the connection was refused, and each deferral for a route
    held down without a connection marked `attempt=held` (HELD_FIELD).

    A refused connection is logged on a dispatcher session (`mta connecting address=smtp://
    ip:port`, then `mta error reason=IO Error: Connection refused`), not on an envelope; the
    envelopes for that address and port are deferred with NETWORK_ERROR a moment later. The
    delivery line names the relay's address without its port, so the port comes from the
    recipient's domain: its static route (`static_routes`, domain -> "ip:port"), else an MX
    host's port 25. A deferral with NETWORK_ERROR is an attempt when a connection to its
    address and port was refused since that destination's previous such deferral; otherwise
    OpenSMTPD deferred it without connecting, the route to the address being down after a
    refusal (mta.c, mta_route_down): not an attempt, but held.
    """
    connecting: dict[str, str] = {}  # session -> "ip:port"
    refused_at: dict[str, LogRecord] = {}  # "ip:port" -> its refusal since its last deferral
    marked = []
    for record in records:
        session = record.fields.get("session", "")
        destination = _CONNECTING.match(record.text)
        if destination is not None:
            connecting[session] = f"{destination.group('address')}:{destination.group('port')}"
        elif record.text.startswith("error ") and REFUSED in record.text:
            if session in connecting:
                refused_at[connecting[session]] = record
        elif record.fields.get("reason") == NETWORK_ERROR:
            domain = record.fields.get("to", "").rpartition("@")[2].lower()
            relay = record.fields.get("relay", "").split(" ")[0].strip("[]")
            key = static_routes.get(domain, f"{relay}:{SMTP_PORT}")
            refusal = refused_at.pop(key, None)
            name, value = REFUSED_FIELD if refusal is not None else HELD_FIELD
            fields = {**record.fields, name: value}
            record = replace(record, time=(refusal or record).time, fields=fields)
        marked.append(record)
    return marked
