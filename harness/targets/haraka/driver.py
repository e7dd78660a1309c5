"""Haraka, the Node.js mail server, as a sender: its outbound queue, stock, on the warped clock.

Haraka (npm `Haraka`, 3.1.6, on Debian's Node.js) relays what a relaying client submits: when
no queue plugin takes a relayed transaction, outbound queues it, one queue file per
destination domain, and delivers it itself. What it does on a failure is in outbound/
(github.com/haraka/Haraka, tag v3.1.6):

- **The schedule** (config.js, `set_temp_fail_intervals`): without `temp_fail_intervals` in
  outbound.ini, the n-th temporary failure waits 2^(n+5) s (64 s, 128 s, ..., 131072 s =
  36.4 h), for `maxTempFailures` = 13 failures: the 13th bounces the message ("Too many
  failures"), 2^18 - 64 s = 72.8 h after the first.
- **The timer**: a deferred message goes into a timer queue checked once a second
  (timer_queue.js, `setInterval(..., 1000)`): it is tried again in the second after its delay.
- **Permanent**: a 5xx anywhere bounces (hmail.js); a 4xx, a refused or failed connection, or
  an MX lookup's temporary error defers (`temp_fail`). A connection that closes or times out
  in the session tries the next MX, and after the last one defers ("Tried all MXs").
- **The DSN** is a multipart/report (`populate_bounce_message`), queued and delivered like any
  message to the envelope sender's domain.

`temp_fail_intervals` could be divided by k, but Haraka refuses an interval under 5 s
("delay time too small", config.js), so configuration compresses 64 s at most k = 12; and the
1-second timer tick cannot be configured. So the stock configuration runs on the warped
clock (`warp_only`). Node waits only in epoll_wait(), whose millisecond timeout libfaketime
divides in integers (every timeout under K ms becomes 0: the loop spins); the preload library
beside it waits those timeouts to the nanosecond (`MAILSTORM_WARP_EPOLL`, docs/clock-warp.md).

Routes: the plugin `mailstorm` (image/mailstorm.js) answers Haraka's `get_mx` hook for the
domains of the harness's static routes; any other domain goes to Haraka's own MX lookup, through
the resolver the harness writes. The same plugin relays for 127.0.0.1 (the local submission,
msmtp over SMTP) and logs one record per deferral, bounce and delivery, with the
envelope, which Haraka's own lines do not name. The log is Haraka's JSON format with its own
millisecond stamps (`Date`, the fast clock). The queue is read from the queue files' todo headers
(image/mailstorm-queue.js).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from harness.durations import format_duration
from harness.message_ids import id_from_address
from harness.results import ScaledParameter
from harness.targets.base import SenderTarget, TargetError
from harness.targets.records import (
    DECISION_FIELD,
    REFUSED_FIELD,
    LogRecord,
    QueuedMessage,
    QueuedRecipient,
)
from harness.targets.time_scaling import TimeScaling

HOME = "/etc/haraka"
QUEUE_DIR = f"{HOME}/queue"
LOG = "/var/log/haraka.log"
QUEUE_LISTER = "/usr/local/lib/mailstorm-queue.js"
#: Haraka's default schedule (outbound/config.js): maxTempFailures, and 2^(n+5) s after the
#: n-th failure for the 12 failures before the last.
MAX_TEMP_FAILURES = 13
INTERVALS = tuple(float(2 ** (n + 5)) for n in range(1, MAX_TEMP_FAILURES))
FIRST_INTERVAL = ("temp_fail_intervals[1]", INTERVALS[0])
GIVE_UP = ("maxTempFailures", sum(INTERVALS))
#: outbound.ini's connect_timeout (config.js): also the idle timeout of the session's socket.
CONNECT_TIMEOUT = ("connect_timeout", 30.0)
#: The timer queue's tick (timer_queue.js): a retry comes in the second after its delay.
TIMER_TICK = 1.0
#: The daemon in the foreground, its output (the log) to the file.
DAEMON = f"exec haraka -c {HOME} >> {LOG} 2>&1"
SUBMISSION = "127.0.0.1:25"
_LINE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) (?P<json>\{.*\})$")
RECORD_PREFIX = "mailstorm-record "
_REFUSED = re.compile(r"^Failed to get socket: .*ECONNREFUSED (?P<relay>\S+)")
_SESSION_FAILED = re.compile(
    r"^(?:Ongoing connection failed to (?P<host>\S+) : |Remote end (?P<closed>\S+) closed)"
)


class HarakaTarget(SenderTarget):
    name = "haraka"
    log_path = LOG
    #: Ready once the SMTP listener is up (the local submission goes there).
    ready_command: ClassVar[list[str]] = ["grep", "-q", f"Listening on {SUBMISSION}", LOG]
    warp_only: ClassVar[bool] = True
    #: The preload library, for its epoll_wait() (MAILSTORM_WARP_EPOLL); Haraka arms no alarm().
    exact_alarm: ClassVar[bool] = True
    warp_environment: ClassVar[Mapping[str, str]] = {"MAILSTORM_WARP_EPOLL": "1"}
    #: 72.8 hours, the give-up, in 91 s of wall time.
    default_warp_factor: ClassVar[float | None] = 2880.0
    #: The timer queue fires a due retry at its next 1-second tick.
    retry_clock_slack: ClassVar[float] = TIMER_TICK
    #: `connect_timeout` is also the idle timeout of every session's socket (client_pool.js):
    #: 30 s for each reply, 10 ms of wall time at x2880.
    reply_timeout: ClassVar[float | None] = CONNECT_TIMEOUT[1]
    #: Each delay starts when the previous attempt's deferral is handled (hmail.js,
    #: `deferred_respond`: `temp_fail_queue.add(..., delay)`).
    chained_delays: ClassVar[bool] = True

    def scale_time(self) -> TimeScaling:
        return TimeScaling(
            self.config_scale,
            tuple(
                ScaledParameter(name, seconds, seconds / self.config_scale, self.config_scale)
                for name, seconds in (FIRST_INTERVAL, GIVE_UP, CONNECT_TIMEOUT)
            ),
        )

    def configure(self) -> None:
        """The listener, the plugin and its routes, the log's format, the host's name; every
        outbound setting Haraka's default (no outbound.ini)."""
        config = f"{HOME}/config"
        self.put_file(f"{config}/smtp.ini", f"[main]\nlisten={SUBMISSION}\nnodes=\n")
        self.put_file(f"{config}/plugins", "mailstorm\n")
        self.put_file(f"{config}/log.ini", "[main]\nlevel=info\ntimestamps=true\nformat=json\n")
        self.put_file(f"{config}/me", f"{self.hostname}\n")
        self.put_file(f"{config}/mailstorm_routes.json", json.dumps(self.route_map(), indent=1))
        self.exec(["touch", LOG])

    def route_map(self) -> dict[str, list[dict[str, Any]]]:
        """Domain -> the HarakaMx objects of its hops, in order (priority 10, 20, ...)."""
        return {
            domain.lower(): [
                {"exchange": hop.host, "port": hop.port, "priority": 10 * (index + 1)}
                for index, hop in enumerate(hops)
            ]
            for domain, hops in self.routes.routes
        }

    def foreground_command(self) -> list[str]:
        return ["sh", "-c", DAEMON]

    def submit_command(self, sender: str, recipients: Sequence[str]) -> list[str]:
        """msmtp, over SMTP to Haraka's listener on the loopback."""
        host, _, port = SUBMISSION.partition(":")
        return [
            "msmtp", f"--host={host}", f"--port={port}", "--auth=off", "--tls=off",
            f"--domain={self.hostname}", "-f", sender, "--", *recipients,
        ]  # fmt: skip

    # -- schedule -------------------------------------------------------------------------------

    def first_retry_window(self) -> tuple[float, float]:
        """64 s after the deferral, at the timer's next tick; the deferral comes at the end of
        the failed attempt, up to `connect_timeout` after its start (a silent server)."""
        return self._window(FIRST_INTERVAL[0], TIMER_TICK)

    def give_up_window(self) -> tuple[float, float]:
        """The 13th failure: twelve intervals after the first, each retry up to a tick late
        (and the last attempt up to `connect_timeout` long)."""
        return self._window(GIVE_UP[0], TIMER_TICK * len(INTERVALS))

    def _window(self, name: str, late: float) -> tuple[float, float]:
        nominal = self.scaling.get(name).default_seconds
        return nominal, nominal + late + CONNECT_TIMEOUT[1]

    def stock_retry_floor(self) -> tuple[float, str]:
        seconds = FIRST_INTERVAL[1]
        return seconds, (
            f"2^(n+5) s after the n-th failure, {format_duration(seconds)} first "
            "(outbound/config.js, no temp_fail_intervals)"
        )

    def stock_give_up(self) -> tuple[float, str]:
        seconds = GIVE_UP[1]
        return seconds, (
            f"maxTempFailures = {MAX_TEMP_FAILURES}: {format_duration(seconds)} after the first "
            "failure (outbound/config.js)"
        )

    # -- queue and log --------------------------------------------------------------------------

    def queue(self) -> list[QueuedMessage]:
        """The queue files' todo headers; a file's name carries its arrival and next attempt,
        in milliseconds of Haraka's clock (outbound/qfile.js)."""
        listing = self.exec(["node", QUEUE_LISTER, QUEUE_DIR])
        messages = []
        for line in listing.splitlines():
            try:
                entry = json.loads(line)
                arrival_ms, next_ms = (int(part) for part in entry["file"].split("_")[:2])
            except (ValueError, KeyError, TypeError) as error:
                raise TargetError(f"haraka: a queue entry it cannot read: {line!r}") from error
            sender = str(entry.get("from") or "")
            messages.append(
                QueuedMessage(
                    queue_id=str(entry["uuid"]),
                    sender=sender,
                    recipients=tuple(QueuedRecipient(str(r)) for r in entry.get("to", [])),
                    status="bounce" if not sender else "deferred",
                    arrival=self.real_time(datetime.fromtimestamp(arrival_ms / 1000, UTC)),
                    next_attempt=self.real_time(datetime.fromtimestamp(next_ms / 1000, UTC)),
                    message_id=id_from_address(sender),
                )
            )
        return messages

    def parse_log_line(self, line: str) -> LogRecord | None:
        return parse_log_line(line)

    def logs(self) -> list[LogRecord]:
        """One record per recipient of each of the plugin's records, and one per failed
        connection (see `parse_log_line`)."""
        return per_recipient(super().logs())


def parse_log_line(line: str) -> LogRecord | None:
    """A line of Haraka's JSON log as a record, or None for the lines the ledger needs not.

    - The plugin's `mailstorm-record {...}`: `status` sent, deferred or bounced, with `from`,
      `to` (comma-joined; `per_recipient` splits it), `relay` (`host:port`, or `none` when no
      session had a reply), `reason`.
    - `Failed to get socket: connect ECONNREFUSED ip:port` (outbound, the hmail's uuid): a
      refused connection, one per MX tried (`attempt=refused`).
    - Haraka's line for the `get_mx` hook (info): the decision to try the hmail now, the start
      of an attempt's cost (DECISION_FIELD).
    - `Ongoing connection failed to host:port : ...` and `Remote end host:port closed ...`: a
      session that reached the receiver and failed without a reply to defer on; Haraka tries
      the next MX, and after the last logs the deferral with no relay.
    """
    found = _LINE.match(line)
    if found is None:
        return None
    try:
        entry = json.loads(found.group("json"))
    except ValueError:
        return None
    message = str(entry.get("message", ""))
    time = datetime.fromisoformat(found.group("time").replace("Z", "+00:00"))
    if message.startswith(RECORD_PREFIX):
        try:
            event = json.loads(message.removeprefix(RECORD_PREFIX))
        except ValueError:
            return None
        fields = {
            "status": str(event.get("event", "")),
            "from": str(event.get("from") or ""),
            "to": ",".join(str(r) for r in event.get("to", [])),
            "relay": str(event.get("relay", "none")),
            "reason": str(event.get("reason", "")),
            "attempts": str(event.get("attempts", "")),
        }
        return LogRecord(time, "haraka/outbound", str(event.get("queue", "")) or None,
                         fields["reason"], fields, line)  # fmt: skip
    queue_id = str(entry.get("uuid", "-"))
    if queue_id == "-" or entry.get("origin") != "outbound":
        return None
    if entry.get("hook") == "get_mx":
        key, value = DECISION_FIELD
        return LogRecord(time, "haraka/outbound", queue_id, "get_mx", {key: value}, line)
    if refused := _REFUSED.match(message):
        key, value = REFUSED_FIELD
        fields = {"status": "deferred", "relay": "none", key: value, "host": refused["relay"]}
        return LogRecord(time, "haraka/outbound", queue_id, message, fields, line)
    if failed := _SESSION_FAILED.match(message):
        host = failed["host"] or failed["closed"]
        fields = {"status": "deferred", "relay": host, "reason": message}
        return LogRecord(time, "haraka/outbound", queue_id, message, fields, line)
    return None


def per_recipient(records: Sequence[LogRecord]) -> list[LogRecord]:
    """Each plugin record that names several recipients as one record per recipient. A
    connection record stays one (it is one attempt, which the ledger counts per record) and
    takes its hmail's envelope, and the first recipient, from the hmail's plugin records."""
    envelopes: dict[str, tuple[str, str]] = {}
    for record in records:
        if record.queue_id and "from" in record.fields:
            envelopes.setdefault(record.queue_id, (record.fields["from"], record.fields["to"]))
    expanded: list[LogRecord] = []
    for record in records:
        if "from" not in record.fields:
            sender, recipients = envelopes.get(record.queue_id or "", ("", ""))
            fields = {**record.fields, "from": sender, "to": recipients.split(",")[0]}
            expanded.append(replace(record, fields=fields))
            continue
        for recipient in [r for r in record.fields["to"].split(",") if r] or [""]:
            expanded.append(replace(record, fields={**record.fields, "to": recipient}))
    return expanded
