"""nullmailer, the relay-only queue: everything to one smarthost, on a doubling pause.

nullmailer (Debian's `nullmailer`, 2.2) keeps a queue but routes nothing: every message goes
to the remotes listed in `/etc/nullmailer/remotes`, in order, the same for every recipient.
What it does on a failure is all in src/send.cc:

- **One pass over the whole queue, then a pause.** `send_all` tries every queued message on
  each remote; a temporary failure leaves the message for the next pass. The pause between
  passes starts at `pausetime` (60 s) and doubles after every pass up to `maxpause` (24 h)
  (`do_select`), so the retries of one failed message come 1, 3, 7, 15, 31 minutes ... after
  it, then once a day from 34 hours on. A new message pulls the trigger and resets the pause
  to `pausetime` for the whole queue: a busy host retries often, a quiet one once a day.
- **The whole message or nothing.** The SMTP protocol ends the transaction at the first
  recipient not accepted (protocols/smtp.cc, `send_envelope` / `docmd`): a 4xx for one
  recipient defers all of them, a 5xx bounces all of them.
- **The give-up** is `queuelifetime` (7 days) after the queue file was written, at the first
  pass after it that fails again.
- **Bounces go the same way.** `bounce_msg` has `nullmailer-dsn` write the DSN into the same
  queue, so it goes to the same smarthost. A DSN that fails permanently is not bounced again
  ("Not generating double bounce"), so when the smarthost refuses the DSN too, nobody hears of
  the failure. The bounce domain's route is therefore unused: the DSN reaches the scenario's
  receiver, where the ledger finds it (`harness.ledger`).
- **No timeouts but one**: the protocol waits on the server as long as the connection lives,
  and `sendtimeout` (1 h) kills a delivery that takes longer.

Every time is a whole-second setting (`config_readint`) and `pausetime` 0 means "one pass and
exit", so dividing them by k stops being exact at k > 60 and impossible at k > 60 x 60: the
stock configuration runs on the warped clock instead (`warp_only`). A queued message's age is
its file's mtime, which the kernel stamps in real time and every warp leaves so (libfaketime's
stat faking is off, NO_FAKE_STAT: docs/clock-warp.md); the preload library beside it
(`MAILSTORM_WARP_STAT`, mailstorm-alarm.c) puts it on the fast clock.

One remote list per daemon means one smarthost per container: every scenario gets its own
(`single_smarthost`). In the matrix the scenario's receiver is the smarthost nullmailer relays
to, as for msmtp; it looks up no MX, so DNS/MX scenarios do not apply (`dns_not_applicable`).

nullmailer-send logs to stdout, unstamped, one block per delivery attempt (`Starting delivery:
host: H protocol: smtp file: F`, `From: <s> to: <r>`, the protocol's `smtp: Failed: ...`, then
`Sending failed: ...` or `Sent file.`); `mailstorm-stamp` stamps each line on the warped clock
and `delivery_records` folds each block into one record of the attempt.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import ClassVar

from harness.durations import format_duration
from harness.message_ids import id_from_address
from harness.targets.base import SenderTarget, TargetError
from harness.targets.records import REFUSED_FIELD, LogRecord, QueuedMessage, QueuedRecipient
from harness.targets.time_scaling import TimeScaling, scale_whole_seconds

CONFIG_DIR = "/etc/nullmailer"
QUEUE_DIR = "/var/spool/nullmailer/queue"
LOG = "/var/log/nullmailer.log"
#: nullmailer-send in the foreground as Debian's service runs it (user mail), stamped.
DAEMON = (
    "runuser -u mail -- /usr/sbin/nullmailer-send 2>&1 | /usr/local/bin/mailstorm-stamp >> {log}"
)
#: The start-up scan is logged (`Rescanning queue.`, load_messages) and the daemon sleeps.
READY = (
    "grep -q '^[0-9.]* Rescanning queue[.]$' {log} && "
    'case "$(ps -o stat= -C nullmailer-send)" in S*) exit 0;; *) exit 1;; esac'
)
#: The stock times, in seconds (send.cc): the first pause, the longest, a delivery's limit,
#: and a message's life in the queue.
PAUSETIME = ("pausetime", 60.0)
MAXPAUSE = ("maxpause", 24 * 3600.0)
SENDTIMEOUT = ("sendtimeout", 3600.0)
QUEUELIFETIME = ("queuelifetime", 7 * 86400.0)
#: How much later than its pause a pass's attempt can come, in nullmailer seconds: the pass
#: starts with a rescan, and the messages before this one in the pass are tried first.
PASS_LATENESS = 10.0
#: The queue lifetime compares whole seconds of time() with the file's mtime (send_all).
AGE_SLACK = 1.0
#: `Sending failed:` texts of the errors with ERR_PERMANENT_FLAG (lib/errcodes.h): the
#: message is bounced, not kept.
PERMANENT = (
    "Fatal error in gethostbyname",
    "Server refused the message",
    "Permanent error in sending the message",
)
#: `Sending failed:` texts of failures to connect: the receiver never saw a session.
CONNECT_FAILURES = (
    "Connection refused",
    "Connection timed out",
    "Host or network unreachable",
    "Connection failed",
    "Host not found",
    "Host has no address",
    "Temporary error in gethostbyname",
    "Socket failed",
)
_STAMPED = re.compile(r"^(?P<stamp>\d+\.\d+) (?P<line>.*)$")
_STARTING = re.compile(
    r"^Starting delivery: host: (?P<host>\S+) protocol: \S+ file: (?P<file>\S+)$"
)
_ENVELOPE = re.compile(r"^From: <(?P<sender>[^>]*)>(?: to: (?P<recipients>.*))?$")
_MOVING = re.compile(r"^Moving message (?P<file>\S+) into failed$")
_PROTOCOL = re.compile(r"^\w+: (?:Failed|Succeeded): (?P<reply>.*)$")


class NullmailerTarget(SenderTarget):
    name = "nullmailer"
    log_path = LOG
    #: Ready once nullmailer-send has scanned the queue at start and sleeps in its pause: a
    #: message queued before that scan would be sent by it *and* by the pass its trigger starts.
    ready_command: ClassVar[list[str]] = ["sh", "-c", READY.format(log=LOG)]
    warp_only: ClassVar[bool] = True
    single_smarthost: ClassVar[bool] = True
    dns_not_applicable: ClassVar[str | None] = (
        "nullmailer relays every message to the smarthosts in its remotes file and looks up no "
        "MX: a DNS/MX scenario would measure the smarthost, another MTA"
    )
    one_session_at_a_time: ClassVar[str | None] = (
        "nullmailer delivers one message at a time and waits for each delivery before the next "
        "(send.cc, send_all and catchsender): it never opens the second session a session "
        "limit refuses"
    )
    #: The preload library beside libfaketime (mailstorm-alarm.c) puts the queue files' mtimes
    #: on the fast clock: nullmailer ages a message by its file's mtime, which the kernel
    #: stamps in real time and every warp leaves so (NO_FAKE_STAT; nullmailer sets no alarm).
    exact_alarm: ClassVar[bool] = True
    warp_environment: ClassVar[Mapping[str, str]] = {"MAILSTORM_WARP_STAT": "1"}
    #: 7 days, the queue lifetime, in 3.5 minutes of wall time.
    default_warp_factor: ClassVar[float | None] = 2880.0
    #: The pause is a select() timeout from the end of a pass, on the fast clock: a retry never
    #: comes sooner than the pause after the failed attempt ended, and no whole-second rounding
    #: moves it (the whole seconds of time() touch only the queue lifetime: AGE_SLACK).
    retry_clock_slack: ClassVar[float] = 0.0

    def scale_time(self) -> TimeScaling:
        return TimeScaling(
            self.config_scale,
            tuple(
                scale_whole_seconds(name, seconds, self.config_scale)
                for name, seconds in (PAUSETIME, MAXPAUSE, SENDTIMEOUT, QUEUELIFETIME)
            ),
        )

    def configure(self) -> None:
        """The smarthost in `remotes`, the host's name in `/etc/mailname` (Debian's nullmailer
        reads it instead of `me`); every time setting stays nullmailer's default."""
        hop = self.smarthost()
        self.put_file("/etc/mailname", f"{self.hostname}\n")
        self.put_file(f"{CONFIG_DIR}/remotes", f"{hop.host} smtp --port={hop.port}\n", mode=0o640)
        self.exec(
            f"chown mail:mail {CONFIG_DIR}/remotes && touch {self.log_path} && "
            f"chmod 0666 {self.log_path}"
        )

    def foreground_command(self) -> list[str]:
        return ["sh", "-c", DAEMON.format(log=shlex.quote(self.log_path))]

    def first_retry_window(self) -> tuple[float, float]:
        """The next pass comes `pausetime` after the failed one ended (sooner if a new message
        pulls the trigger), and reaches this message up to PASS_LATENESS later."""
        pause = self.scaling.get(PAUSETIME[0]).default_seconds
        return max(0.0, pause - self.retry_clock_slack), pause + PASS_LATENESS

    def give_up_window(self) -> tuple[float, float]:
        """At the first failed pass after `queuelifetime`: at most `maxpause` after it."""
        lifetime = self.scaling.get(QUEUELIFETIME[0]).default_seconds
        longest = self.scaling.get(MAXPAUSE[0]).default_seconds
        return lifetime - AGE_SLACK, lifetime + longest + PASS_LATENESS

    def stock_retry_floor(self) -> tuple[float, str]:
        seconds = PAUSETIME[1]
        return seconds, (
            f"pausetime = {format_duration(seconds)}, doubling after every pass up to maxpause "
            f"= {format_duration(MAXPAUSE[1])} (send.cc, do_select)"
        )

    def stock_give_up(self) -> tuple[float, str]:
        seconds = QUEUELIFETIME[1]
        return seconds, f"queuelifetime = {format_duration(seconds)}, nullmailer's default"

    def queue(self) -> list[QueuedMessage]:
        """The queue files: the envelope sender's line, one line per recipient, a blank line,
        then the message (nullmailer-queue); the file's mtime is its arrival. nullmailer keeps
        no next-attempt time: the pause is the daemon's, in memory."""
        listing = self.exec(
            [
                "sh",
                "-c",
                # read whole or skipped: a file delivered meanwhile is gone, not unreadable
                f'cd {QUEUE_DIR} && for f in *; do [ -f "$f" ] || continue; '
                'm=$(stat -c %Y "$f" 2>/dev/null) && '
                'c=$(sed "/^$/q" "$f" 2>/dev/null) || continue; '
                'printf "== %s %s\n%s\n" "$f" "$m" "$c"; done',
            ]
        )
        return parse_queue_listing(listing)

    def parse_log_line(self, line: str) -> LogRecord | None:
        """A stamped line as a record of its text alone; `logs` joins a block's lines."""
        stamped = _STAMPED.match(line)
        if stamped is None:
            return None
        return LogRecord(
            time=datetime.fromtimestamp(float(stamped.group("stamp")), UTC),
            process="nullmailer-send",
            queue_id=None,
            text=stamped.group("line"),
            raw=line,
        )

    def logs(self) -> list[LogRecord]:
        """One record per delivery attempt and per message moved into `failed`."""
        return delivery_records(super().logs())


@dataclass
class _Block:
    """The delivery attempt being read: its queue file, host and envelope."""

    file: str
    host: str
    sender: str = ""
    recipients: str = ""
    reply: str = ""


def delivery_records(lines: Sequence[LogRecord]) -> list[LogRecord]:
    """Fold nullmailer-send's line records into one record per attempt, keyed by queue file.

    Each attempt's record is stamped at its outcome line and carries `from`, `to`, `relay` (the
    smarthost, or `none` when it could not connect), the protocol's last reply and `status`:
    `sent`, `deferred` or `bounced` (a permanent error). A refused connection is marked
    `attempt=refused`. `Moving message F into failed` is a record with `status=expired` when
    the message failed only temporarily (its queue lifetime is over) and is the bounce itself
    otherwise; either way the message is gone from the queue.
    """
    records: list[LogRecord] = []
    block: _Block | None = None
    senders: dict[str, str] = {}
    last_status: dict[str, str] = {}
    for line in lines:
        text = line.text
        if found := _STARTING.match(text):
            block = _Block(found.group("file"), found.group("host"))
            continue
        if found := _MOVING.match(text):
            file = found.group("file")
            status = "bounced" if last_status.get(file) == "bounced" else "expired"
            fields = {"from": senders.get(file, ""), "status": status}
            records.append(replace(line, queue_id=file, fields=fields))
            continue
        if block is None:
            continue
        if found := _ENVELOPE.match(text):
            block.sender = found.group("sender")
            block.recipients = (found.group("recipients") or "").replace("<", "").replace(">", "")
            senders[block.file] = block.sender
            continue
        if found := _PROTOCOL.match(text):
            block.reply = found.group("reply")
            continue
        outcome = _outcome(text)
        if outcome is None:
            continue
        status, reached, error = outcome
        fields = {
            "from": block.sender,
            "to": block.recipients,
            "relay": block.host if reached else "none",
            "status": status,
        }
        if error == "Connection refused":
            key, value = REFUSED_FIELD
            fields[key] = value
        said = "; ".join(part for part in (block.reply, error) if part)
        if not reached:
            said = f"connect to {block.host} failed: {said}"
        last_status[block.file] = status
        records.append(replace(line, queue_id=block.file, text=said, fields=fields))
        block = None
    return records


def _outcome(text: str) -> tuple[str, bool, str] | None:
    """(status, reached the server, error) of an outcome line, None for any other line."""
    if text == "Sent file.":
        return "sent", True, ""
    if text == "Sending timed out, killing protocol":
        return "deferred", True, "sendtimeout reached"
    if text == "Sending process crashed or was killed.":
        return "deferred", True, text
    if text.startswith("Sending failed: "):
        error = text.removeprefix("Sending failed: ")
        status = "bounced" if error in PERMANENT else "deferred"
        return status, error not in CONNECT_FAILURES, error
    return None


def parse_queue_listing(listing: str) -> list[QueuedMessage]:
    """`== <file> <mtime>` then the file's envelope lines, per queue file (`queue`)."""
    messages: list[QueuedMessage] = []
    for chunk in listing.split("== ")[1:]:
        header, *envelope = chunk.splitlines()
        file, _, mtime = header.partition(" ")
        if not envelope or not mtime.isdigit():
            raise TargetError(f"nullmailer: a queue file it cannot read: {chunk!r}")
        sender, recipients = envelope[0], [r for r in envelope[1:] if r]
        messages.append(
            QueuedMessage(
                queue_id=file,
                sender=sender,
                recipients=tuple(QueuedRecipient(r) for r in recipients),
                status="queued",
                arrival=datetime.fromtimestamp(int(mtime), UTC),
                next_attempt=None,
                message_id=id_from_address(sender),
            )
        )
    return messages
