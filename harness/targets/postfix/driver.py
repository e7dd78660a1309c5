"""Postfix as a sender target.

Routes go into a transport map (`domain smtp:[ip]:port, [ip]:port`: brackets, so no MX lookup;
a list is tried in order, Postfix 3.5+). Time is compressed by dividing Postfix's own defaults
(read with `postconf -d` in the image, so the shape is Debian's) of the queue scheduler and SMTP
client timeouts by the time scale. Postfix takes whole seconds, so small values round; the
scaling says by how much. The log goes to a file through postlogd (`maillog_file`, Postfix 3.4+):
a container has no syslog. The queue is `postqueue -j`; a deferred message's next attempt is its
queue file's modification time, which is how Postfix's queue manager schedules it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import ClassVar

from harness.durations import format_duration
from harness.errors import TargetMetadataError
from harness.message_ids import id_from_address
from harness.results import ScaledParameter
from harness.targets.base import SenderTarget
from harness.targets.records import LogRecord, QueuedMessage, QueuedRecipient
from harness.targets.syslog_time import syslog_time
from harness.targets.time_scaling import MTA_TIME_UNITS, TimeScaling, scale_whole_seconds

TRANSPORT_MAP = "/etc/postfix/mailstorm_transport"
QUEUE_DIRECTORIES = ("incoming", "active", "deferred", "hold")
#: Added to `import_environment` under a clock warp (NO_FAKE_STAT: qmgr's lstat() of the
#: queue-file mtimes it sets must not be faked a second time).
WARP_ENVIRONMENT = "LD_PRELOAD FAKETIME FAKETIME_SHARED NO_FAKE_STAT"

#: The retry schedule and give-up parameters, then the SMTP client's per-command timeouts.
TIME_PARAMETERS = (
    "queue_run_delay",
    "minimal_backoff_time",
    "maximal_backoff_time",
    "maximal_queue_lifetime",
    "bounce_queue_lifetime",
    "delay_warning_time",
    "smtp_connect_timeout",
    "smtp_helo_timeout",
    "smtp_mail_timeout",
    "smtp_rcpt_timeout",
    "smtp_data_init_timeout",
    "smtp_data_xfer_timeout",
    "smtp_data_done_timeout",
    "smtp_quit_timeout",
)
#: Backoffs are kept at 2 wall seconds or more. qmgr takes a deferred file back up to one second
#: early (it skips only files whose time is more than `time() + 1` ahead, qmgr_active.c
#: qmgr_active_feed), so a 1 s backoff makes the file eligible at once, and the next 1 s scan can
#: reach it before the smtp agent that just deferred it has closed it (deliver_request_done
#: replies first, then frees the request and its lock). qmgr then logs "skipped, still being
#: delivered" and parks the file in `incoming` for a hard-coded 60 s, 60 real hours at k = 3600,
#: which no time scale shortens; an idle sender never scans `incoming` again.
BACKOFF_FLOOR = {"minimal_backoff_time": 2.0, "maximal_backoff_time": 2.0}
_BACKOFF_WHY = "a 1 s backoff lets qmgr rescan the file before the smtp agent unlocks it"
#: qmgr stamps the file `event_time() + backoff` (the loop's whole-second clock, up to 1 s
#: behind) and takes it back once its stamp is at most `time() + 1`: 1 to 2 s early, 1.5 on
#: average (qmgr_active.c 3.7.9 lines 160, 203). At stock settings that is 0.5% of 300 s; at
#: k = 1440 a 2 s backoff then waits 0.5 s on average, 12 real minutes, not 48.
BACKOFF_EARLY = 1.5
_EARLY_WHY = "qmgr stamps event_time() + backoff and takes the file back at time() + 1"
#: qmgr's log line for a queue file still locked by a delivery agent (qmgr_message.c).
LOCKED_SKIP = "skipped, still being delivered"
_TIME_VALUE = re.compile(r"^(\d+)([smhdw]?)$")
_LOG_LINE = re.compile(
    r"^(?P<time>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (?P<process>postfix[\w/-]*)\[\d+\]: "
    r"(?:(?P<queue_id>[0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}): )?(?P<text>.*)$"
)
_FIELD = re.compile(r"(?:^|, )([\w-]+)=(<[^>]*>|[^,\s]*)")
_STATUS = re.compile(r"status=(\w+)(?: \((?P<reason>.*)\))?$")


class PostfixTarget(SenderTarget):
    name = "postfix"
    log_path = "/var/log/postfix.log"
    ready_command: ClassVar[list[str]] = ["postfix", "status"]
    #: 5 days in ~150 s of wall time (docs/clock-warp.md).
    default_warp_factor: ClassVar[float | None] = 2880.0
    #: qmgr stamps a deferred file's mtime with `event_time() + delay` (whole seconds, the
    #: event loop's cached clock) and takes it back once `st_mtime <= time() + 1`
    #: (qmgr_active.c, qmgr_active_defer and qmgr_active_feed, 3.7.9 lines 160 and 203): a
    #: retry can come up to two wall seconds before its backoff is over.
    retry_clock_slack: ClassVar[float] = 2.0
    user_config_file: ClassVar[str | None] = "main.cf"

    @classmethod
    def parse_user_config(cls, text: str, *, source: str) -> dict[str, str]:
        """A `main.cf` fragment: `name = value` lines, `#` comments, and continuation lines
        that start with white space (postconf(5)); a time parameter must be a Postfix time
        value. Errors name the line."""
        settings: dict[str, str] = {}
        last: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            if raw[0].isspace():
                if last is None:
                    raise TargetMetadataError(
                        f"{source}: line {number}: a continuation line before any setting"
                    )
                settings[last] = f"{settings[last]} {raw.strip()}".strip()
                continue
            name, equals, value = raw.partition("=")
            name = name.strip()
            if not equals or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise TargetMetadataError(
                    f"{source}: line {number} {raw.strip()!r}: not `name = value`"
                )
            settings[name] = value.strip()
            last = name
        for name in TIME_PARAMETERS:
            if name in settings and _TIME_VALUE.match(settings[name]) is None:
                raise TargetMetadataError(
                    f"{source}: {name} = {settings[name]!r}: not a Postfix time value "
                    "(a number with an optional unit s, m, h, d, w)"
                )
        return settings

    def scale_time(self) -> TimeScaling:
        """Scale Postfix's defaults, or a user target's own values where it sets them: the
        compression starts from the configuration the user runs."""
        output = self.exec(["postconf", "-d", *TIME_PARAMETERS])
        defaults = dict(line.split(" = ", 1) for line in output.splitlines() if " = " in line)
        values = {**defaults, **{k: v for k, v in self.user_settings.items() if k in defaults}}
        return TimeScaling(
            self.config_scale,
            tuple(self._scaled(name, values[name]) for name in TIME_PARAMETERS),
        )

    def _basis(self, name: str) -> str:
        """Where a time value comes from, for the checks' text."""
        return "this target's configuration" if name in self.user_settings else "Postfix's default"

    def _scaled(self, name: str, value: str) -> ScaledParameter:
        found = _TIME_VALUE.match(value.strip())
        if found is None:
            raise ValueError(f"postconf -d {name} gave {value!r}, not a time value")
        seconds = int(found.group(1)) * MTA_TIME_UNITS[found.group(2) or "s"]
        if name in BACKOFF_FLOOR:
            return scale_whole_seconds(
                name,
                seconds,
                self.config_scale,
                minimum=BACKOFF_FLOOR[name],
                why_minimum=_BACKOFF_WHY,
                early_seconds=BACKOFF_EARLY,
                why_early=_EARLY_WHY,
            )
        return scale_whole_seconds(name, seconds, self.config_scale)

    def compression_artifacts(self, message_ids: Collection[str]) -> tuple[str, ...]:
        """qmgr found one of these messages still locked by its delivery agent and parked it
        for 60 s (see BACKOFF_FLOOR): from then on its schedule is the harness's."""
        records = self.logs()
        wanted = {m.lower() for m in message_ids}
        queue_ids = {
            r.queue_id
            for r in records
            if r.queue_id and id_from_address(r.fields.get("from", "")) in wanted
        }
        return tuple(
            f"Postfix qmgr: {r.queue_id}: {LOCKED_SKIP} ({r.raw[:15]}): the queue file was "
            "rescanned before its smtp agent unlocked it and was parked for a hard-coded 60 s "
            "that the time scale cannot shorten (qmgr_active.c), so its schedule from there on "
            "is the harness's"
            for r in records
            if r.queue_id in queue_ids and LOCKED_SKIP in r.text
        )

    def first_retry_window(self) -> tuple[float, float]:
        """A deferred message waits `minimal_backoff_time`, then for the next deferred-queue
        scan, which runs every `queue_run_delay`; qmgr takes the file back up to
        `retry_clock_slack` early (BACKOFF_EARLY)."""
        backoff = self.scaling.get("minimal_backoff_time")
        scan = self.scaling.get("queue_run_delay").effective_real_seconds
        nominal = backoff.configured_seconds * backoff.time_scale
        return self.earliest_real_seconds(backoff), nominal + scan

    def stock_retry_floor(self) -> tuple[float, str]:
        """qmgr's backoff is the message's age clamped to [minimal_backoff_time,
        maximal_backoff_time] (qmgr_active.c, qmgr_active_done_3_generic), so a message that
        failed its first attempt may be tried again `minimal_backoff_time` later, scan phase
        permitting."""
        backoff = self.scaling.get("minimal_backoff_time").default_seconds
        basis = self._basis("minimal_backoff_time")
        return backoff, f"minimal_backoff_time = {format_duration(backoff)}, {basis}"

    def stock_give_up(self) -> tuple[float, str]:
        """After a delivery attempt that left recipients deferred, qmgr returns the message
        once `event_time() >= create_time + maximal_queue_lifetime` (qmgr_active.c,
        qmgr_active_done_25_generic): the first failed attempt past the lifetime bounces."""
        lifetime = self.scaling.get("maximal_queue_lifetime").default_seconds
        basis = self._basis("maximal_queue_lifetime")
        return lifetime, f"maximal_queue_lifetime = {format_duration(lifetime)}, {basis}"

    def give_up_window(self) -> tuple[float, float]:
        """The attempt after the lifetime: at most one backoff (`maximal_backoff_time`) and one
        deferred-queue scan later; up to `retry_clock_slack` early."""
        lifetime = self.scaling.get("maximal_queue_lifetime")
        backoff = self.scaling.get("maximal_backoff_time")
        scan = self.scaling.get("queue_run_delay").effective_real_seconds
        latest = (lifetime.configured_seconds + backoff.configured_seconds) * lifetime.time_scale
        return self.earliest_real_seconds(lifetime), latest + scan

    def configure(self) -> None:
        transport = "".join(
            f"{domain} smtp:{', '.join(str(hop) for hop in hops)}\n"
            for domain, hops in self.routes.routes
        )
        self.put_file(TRANSPORT_MAP, transport)
        settings = {
            # A user target's own settings first: the harness's (routes, logging, the scaled
            # times, computed from the user's values) win where both set one.
            **self.user_settings,
            "myhostname": self.hostname,
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "transport_maps": f"texthash:{TRANSPORT_MAP}",
            "maillog_file": self.log_path,
            # Routes are [address]es; nothing else may be looked up: no network but ours.
            "smtp_dns_support_level": "disabled",
            **{p.name: f"{p.configured_seconds:g}s" for p in self.scaling.parameters},
        }
        if self.resolver is not None:
            # The resolver's domains are not in the transport map: the default transport looks
            # up their MX (the harness DNS answers only its zones), over IPv4 and IPv6.
            settings["smtp_dns_support_level"] = "enabled"
            settings["inet_protocols"] = "all"
            # Debian runs smtp chrooted, with a copy of resolv.conf made by its init script,
            # which start-fg does not run: the chroot would have no resolver at all.
            self.exec(["postconf", "-F", "smtp/unix/chroot=n"])
        if self.clock_warp:
            # master passes its children only these variables: without them every daemon
            # runs on the real clock (docs/clock-warp.md, "What breaks").
            stock = self.exec(["postconf", "-dh", "import_environment"]).strip()
            settings["import_environment"] = f"{stock} {WARP_ENVIRONMENT}"
        self.exec(["postconf", "-e", *(f"{key}={value}" for key, value in settings.items())])
        self.exec(["postfix", "check"])

    def start_mta(self) -> None:
        self.exec(["postfix", "start"])

    def foreground_command(self) -> list[str]:
        return ["postfix", "start-fg"]

    def queue(self) -> list[QueuedMessage]:
        next_attempts = self._queue_file_times()
        messages = []
        for line in self.exec(["postqueue", "-j"]).splitlines():
            entry = json.loads(line)
            queue_id = entry["queue_id"]
            sender = entry.get("sender", "")
            messages.append(
                QueuedMessage(
                    queue_id=queue_id,
                    sender=sender,
                    recipients=tuple(
                        QueuedRecipient(r["address"], r.get("delay_reason", ""))
                        for r in entry.get("recipients", [])
                    ),
                    status=entry.get("queue_name", ""),
                    arrival=self.real_time(datetime.fromtimestamp(entry["arrival_time"], UTC)),
                    next_attempt=self.real_time(next_attempts.get(queue_id))
                    if entry.get("queue_name") == "deferred"
                    else None,
                    message_id=id_from_address(sender),
                )
            )
        return messages

    def _queue_file_times(self) -> dict[str, datetime]:
        directories = " ".join(f"/var/spool/postfix/{d}" for d in QUEUE_DIRECTORIES)
        output = self.exec(f"find {directories} -type f -printf '%f %T@\\n' 2>/dev/null || true")
        times = {}
        for line in output.splitlines():
            queue_id, _, stamp = line.partition(" ")
            if stamp:
                times[queue_id] = datetime.fromtimestamp(float(stamp), UTC)
        return times

    def parse_log_line(self, line: str) -> LogRecord | None:
        found = _LOG_LINE.match(line)
        if found is None:
            return None
        text = found.group("text")
        fields = {key: value.strip("<>") for key, value in _FIELD.findall(text)}
        status = _STATUS.search(text)
        if status is not None:
            fields["status"] = status.group(1)
            if status.group("reason"):
                fields["reason"] = status.group("reason")
        return LogRecord(
            time=syslog_time(found.group("time")),
            process=found.group("process"),
            queue_id=found.group("queue_id"),
            text=text,
            fields=fields,
            raw=line,
        )
