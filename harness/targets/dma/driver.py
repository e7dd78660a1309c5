"""dma, the DragonFly Mail Agent: a queue with no daemon, each recipient retried by a process
of its own, on a schedule written into the program.

dma (Debian's `dma`, 0.13) is a sendmail(8) replacement for hosts that send through a
smarthost or straight to the recipient's MX. What it does on a failure is in dma.c, net.c and
mail.c (github.com/corecode/dma, tag v0.13):

- **No daemon, one process per recipient.** The submitting `dma` spools the message (one queue
  file `Q<id>` per recipient beside a shared `M<id>`), daemonizes and forks one process per
  recipient (`go_background`), each of which delivers in a session of its own.
- **A schedule in constants** (dma.h): after a temporary failure the process sleeps
  `MIN_RETRY` (5 min) in 30-second naps (`SLEEP_TIMEOUT`), then draws each next pause between
  1.5 and 2.5 times the last (`deliver`: `backoff + backoff/2 + random() % backoff`), capped at
  `MAX_RETRY` (3 h).
- **Debian's cron job overrides it.** The package installs `/etc/cron.d/dma`, `dma -q` every
  five minutes. `dma -q` touches the spool's `flush` file (`flushqueue_signal`), and every
  sleeping process looks at that file after each nap: touched during this pause, it retries
  at once with the backoff back at 5 minutes (`flushqueue_since`). So on a Debian host with
  cron, every deferred message is retried every 5 minutes, 30 s more at most, until it gives
  up. The look compares whole seconds and includes its bound (`st_mtim.tv_sec + period >=
  now.tv_sec`), so a flush in the same second as a look is seen by the next look too: now and
  then a second retry comes one nap after the first. The flush also restarts the delivery of a
  message whose process died.
- **The give-up**: at the first failed attempt more than `MAX_TIMEOUT` (5 days) after the queue
  file's mtime, the message is bounced ("Could not deliver for the last 432000 seconds").
- **Permanent is more than a 5xx.** A 5xx at any stage bounces; so does any EHLO reply that is
  not 2xx, a 4xx included: `perform_server_greeting` returns -1, and `deliver_to_host` passes
  that on as a permanent failure. A refused connection and a 4xx greeting, MAIL, RCPT, DATA
  or end of data defer.
- **One timeout, and it kills the process.** `CON_TIMEOUT` (5 min) is armed with alarm()
  around every reply it reads (`read_remote`), by `do_timeout`, which calls sigsetjmp() itself
  and returns; the SIGALRM handler's siglongjmp() then jumps into that finished frame, and the
  stack protector aborts the process ("*** stack smashing detected ***", exit 134, measured
  on the fast and the real clock). The message stays queued, unlocked, until the next
  `dma -q` picks it up. The connect has no timeout but the kernel's.
- **Its bounce is no DSN**: a text/plain "Mail delivery failed" with the original headers
  (`bounce`), from the null sender, spooled and delivered like any message: through the
  smarthost. A notice refused for good is not bounced again, but 0.13 logs "can not bounce a
  bounce message, discarding" and exits without removing it (`bounce`; upstream added the
  `delqueue` in f52ebb4, October 2025): it stays queued and every flush tries it again, for
  ever, as it does one refused for now. The ledger counts a message whose notice is queued as
  bounced (harness/ledger).

Every time is a constant, so the stock program runs on the warped clock (`warp_only`), and
the cron job's flush with it (`CRON_FLUSH`). A message's age, and the flush file's, is a file's
mtime, which the kernel stamps in real time; the preload library beside libfaketime puts it on
the fast clock (`MAILSTORM_WARP_STAT`, as for nullmailer). The same library keeps
`CON_TIMEOUT`'s fraction of a wall second (its alarm()), returns 0 from a full sleep()
(libfaketime's returns garbage, and dma subtracts it), and takes what a nap overslept off
the next (`MAILSTORM_WARP_NAPS`): docs/clock-warp.md.

The scenario's receiver is the smarthost (`SMARTHOST`, `PORT` in /etc/dma/dma.conf), one per
configuration file: every scenario gets its own container (`single_smarthost`), and DNS/MX
scenarios do not apply (dma would look up the MX on port 25 only without a smarthost; the
issue's contract, like msmtp's and nullmailer's, is the relay). dma logs through syslog(3),
as `dma[<queue id>]` in each recipient's process: busybox's syslogd writes the file, on the
fast clock, in whole seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar

from harness.durations import format_duration
from harness.message_ids import id_from_address
from harness.results import ScaledParameter
from harness.targets.base import SenderTarget, TargetError
from harness.targets.records import REFUSED_FIELD, LogRecord, QueuedMessage, QueuedRecipient
from harness.targets.syslog_time import syslog_time
from harness.targets.time_scaling import TimeScaling

CONFIG_FILE = "/etc/dma/dma.conf"
SPOOL_DIR = "/var/spool/dma"
LOG = "/var/log/mail.log"
#: busybox's syslogd, in the background, never rotating the file.
SYSLOGD = "busybox syslogd -t -s 0 -O {log}"
#: Debian's /etc/cron.d/dma (`*/5 * * * * root ... /usr/sbin/dma -q`): a queue flush at every
#: fifth minute of the clock. A cron daemon would start its jobs without the warp's environment
#: (a job gets the crontab's), so this loop runs them instead, on the MTA's clock, at the same
#: minutes, once each: a sleep that wakes a moment before its minute (`date +%s` has whole
#: seconds) waits the rest, or the loop would flush again a second later (CI caught a retry 30 s
#: after a flush's retry: a second flush after the new pause had begun).
CRON_FLUSH = (
    "while :; do now=$(date +%s); next=$(( (now / {period} + 1) * {period} )); "
    "sleep $(( next - now )); while [ $(date +%s) -lt $next ]; do sleep 0.2; done; "
    "/usr/sbin/dma -q; done"
)
#: The cron job's period, in seconds.
FLUSH_PERIOD = ("cron.d/dma", 300.0)
#: The schedule's constants (dma.h), in seconds: the first pause, the longest, a message's
#: life, the nap between looks at the flush file, and the timeout on every reply.
MIN_RETRY = ("MIN_RETRY", 300.0)
MAX_RETRY = ("MAX_RETRY", 3 * 3600.0)
MAX_TIMEOUT = ("MAX_TIMEOUT", 5 * 86400.0)
CON_TIMEOUT = ("CON_TIMEOUT", 300.0)
#: dma naps in sleep(30) and looks at the flush file after each nap (deliver).
SLEEP_TIMEOUT = ("SLEEP_TIMEOUT", 30.0)
#: How much later than its pause a retry can come, in dma seconds: the pause is naps of
#: `sleep(30)` with a look at the flush file after each, whose wall time the warp multiplies
#: (measured at x2880: 11 s over a 5-minute pause).
NAP_LATENESS = 15.0
#: The age check compares whole seconds of gettimeofday() with the file's mtime (`deliver`).
AGE_SLACK = 1.0
_LOG_LINE = re.compile(
    r"^(?P<time>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ (?:\S+\.\S+ )?"
    r"dma(?:\[(?P<queue_id>[0-9a-f]+(?:\.[0-9a-f]+)?)\])?: (?P<text>.*)$"
)
_NEW_MAIL = re.compile(r"^new mail from user=\S* uid=\d+ envelope_from=<(?P<sender>[^>]*)>$")
_QUEUED = re.compile(r"^mail to=<(?P<recipient>[^>]*)> queued as (?P<queue_id>\S+)$")
_SUCCESS = re.compile(r"^<(?P<recipient>[^>]*)> delivery successful$")
_DEFERRED = re.compile(r"^remote delivery deferred: (?P<host>\S+) \[[^]]*\] ")
_FAILED = re.compile(r"^remote delivery to (?P<host>\S+) \[[^]]*\] failed ")
_GREETING = re.compile(r"^Could not perform server greeting at (?P<host>\S+) \[")
_CONNECT = re.compile(r"^connect to (?P<host>\S+) \[[^]]*\] failed: (?P<error>.*)$")
_TRYING_HOST = re.compile(r"^trying remote delivery to (?P<host>\S+) \[")
_BOUNCING = re.compile(r"^delivery failed, bouncing as (?P<bounce_id>\S+)$")


class DmaTarget(SenderTarget):
    name = "dma"
    log_path = LOG
    #: Ready once the syslog daemon that writes dma's log has started.
    ready_command: ClassVar[list[str]] = ["grep", "-q", "syslogd started", LOG]
    warp_only: ClassVar[bool] = True
    single_smarthost: ClassVar[bool] = True
    dns_not_applicable: ClassVar[str | None] = (
        "dma relays every message to the SMARTHOST in dma.conf and looks up no MX: a DNS/MX "
        "scenario would measure the smarthost, another MTA"
    )
    plain_bounce: ClassVar[str | None] = (
        "dma's bounce is a text/plain notice with the original headers (mail.c, bounce): no "
        "delivery-status part, no Action or Status for a program to read"
    )
    one_recipient_per_transaction: ClassVar[str | None] = (
        "dma queues every recipient on its own and delivers each in a session and transaction "
        "of its own (spool.c, one queue file per recipient; dma.c, go_background): no "
        "transaction has a second recipient for a recipient limit to refuse"
    )
    #: The queue files' mtimes on the fast clock (dma ages a message by its queue file),
    #: CON_TIMEOUT's alarm() to the fraction of a wall second, sleep() that returns 0 after a
    #: full nap (libfaketime's returns garbage, which cut every pause to one nap),
    exact_alarm: ClassVar[bool] = True
    alarm_parameters: ClassVar[tuple[str, ...]] = (CON_TIMEOUT[0],)
    #: and the 30-second naps' wake-up lateness not summed over a pause (mailstorm-alarm.c).
    warp_environment: ClassVar[Mapping[str, str]] = {
        "MAILSTORM_WARP_STAT": "1",
        "MAILSTORM_WARP_NAPS": "1",
    }
    #: 5 days, the give-up, in 2.5 minutes of wall time.
    default_warp_factor: ClassVar[float | None] = 2880.0
    #: The pause is counted in sleep()s on the fast clock from the end of the failed attempt:
    #: no whole-second rounding moves a retry (the whole seconds touch only the give-up).
    retry_clock_slack: ClassVar[float] = 0.0

    def scale_time(self) -> TimeScaling:
        return TimeScaling(
            self.config_scale,
            tuple(
                ScaledParameter(name, seconds, seconds / self.config_scale, self.config_scale)
                for name, seconds in (MIN_RETRY, MAX_RETRY, MAX_TIMEOUT, CON_TIMEOUT, FLUSH_PERIOD)
            ),
        )

    def configure(self) -> None:
        """The smarthost and its port, the host's name; every other setting Debian's."""
        hop = self.smarthost()
        self.put_file("/etc/mailname", f"{self.hostname}\n")
        self.put_file(
            CONFIG_FILE,
            f"SMARTHOST {hop.host}\nPORT {hop.port}\nMAILNAME /etc/mailname\n",
            mode=0o644,
        )

    def foreground_command(self) -> list[str]:
        """The syslog daemon, then Debian's cron job in the foreground: dma has no daemon of
        its own, and the processes each submission starts run on the clock the submission
        runs on (`on_mta_clock`)."""
        period = self.scaling.get(FLUSH_PERIOD[0]).default_seconds
        flush = CRON_FLUSH.format(period=f"{period:.0f}")
        syslogd = SYSLOGD.format(log=self.log_path)
        return ["sh", "-c", f"touch {self.log_path} && {syslogd} && exec sh -c '{flush}'"]

    def submit_command(self, sender: str, recipients: Sequence[str]) -> list[str]:
        """dma as sendmail(8): it spools the message, then daemonizes and delivers."""
        return ["/usr/sbin/dma", "-f", sender, "--", *recipients]

    # -- schedule -------------------------------------------------------------------------------

    def first_retry_window(self) -> tuple[float, float]:
        """At once, when the failure was the process's death (CON_TIMEOUT's abort) and a flush
        comes right after; the end of the nap in which a flush came; or MIN_RETRY after the
        failed attempt ended when no flush came first."""
        pause = self.scaling.get(MIN_RETRY[0]).default_seconds
        return 0.0, pause + NAP_LATENESS

    def give_up_window(self) -> tuple[float, float]:
        """At the first failed attempt after MAX_TIMEOUT: the cron job's flush makes one at
        least every period and a nap."""
        lifetime = self.scaling.get(MAX_TIMEOUT[0]).default_seconds
        period = self.scaling.get(FLUSH_PERIOD[0]).default_seconds
        return lifetime - AGE_SLACK, lifetime + period + SLEEP_TIMEOUT[1] + NAP_LATENESS

    def stock_retry_floor(self) -> tuple[float, str]:
        nap = SLEEP_TIMEOUT[1]
        return nap, (
            f"a nap of {format_duration(nap)} when Debian's cron job flushes the queue (every "
            f"{format_duration(FLUSH_PERIOD[1])}, /etc/cron.d/dma), else MIN_RETRY = "
            f"{format_duration(MIN_RETRY[1])}, each next pause 1.5 to 2.5 times the last up "
            f"to MAX_RETRY = {format_duration(MAX_RETRY[1])} (dma.h, dma.c deliver)"
        )

    def stock_give_up(self) -> tuple[float, str]:
        seconds = MAX_TIMEOUT[1]
        return seconds, f"MAX_TIMEOUT = {format_duration(seconds)} (dma.h)"

    # -- queue and log --------------------------------------------------------------------------

    def queue(self) -> list[QueuedMessage]:
        """The queue files `Q<id>` (`ID:`, `Sender:`, `Recipient:`), one per recipient; the
        file's mtime (read outside the warp: real time) is the message's arrival. The next
        attempt is a sleeping process's, known to nobody else."""
        listing = self.exec(
            [
                "sh",
                "-c",
                # read whole or skipped: a file delivered meanwhile is gone, not unreadable
                f"cd {SPOOL_DIR} && for f in Q*; do "
                'm=$(stat -c %.9Y "$f" 2>/dev/null) && c=$(cat "$f" 2>/dev/null) || continue; '
                'printf "== %s %s\n%s\n" "$f" "$m" "$c"; done',
            ]
        )
        return parse_queue_listing(listing)

    def parse_log_line(self, line: str) -> LogRecord | None:
        found = _LOG_LINE.match(line)
        if found is None:
            return None
        return LogRecord(
            time=syslog_time(found.group("time"), self.log_clock_now()),
            process="dma",
            queue_id=found.group("queue_id"),
            text=found.group("text"),
            raw=line,
        )

    def logs(self) -> list[LogRecord]:
        """One record per spooled recipient, per delivery attempt and per bounce."""
        return attempt_records(super().logs())


def attempt_records(lines: Sequence[LogRecord]) -> list[LogRecord]:
    """dma's syslog lines as the records the ledger reads.

    - `mail to=<r> queued as Q` (after `new mail from ... envelope_from=<s>`): a record of Q
      with `from` and `to`, which joins Q's other lines to the message.
    - An attempt's outcome, in Q's process: `delivery successful` (`status=sent`), `remote
      delivery deferred: ...` (`deferred`, the server's reply), `connect to ... failed`
      (`deferred`, `relay=none`, refused marked), `remote delivery to ... failed ...` and
      `Could not perform server greeting ...` (`bounced`).
    - An attempt that logged no outcome: its process died (the stack-smashing abort at
      CON_TIMEOUT). Its `trying remote delivery to H` line is a `deferred` record at H when a
      later attempt of Q shows that it ended, and `status=open` when it is Q's last.
    - `delivery failed, bouncing as B`: `status=bounced` with the bounce's queue id.
    """
    records: list[LogRecord] = []
    sender = ""
    recipients: dict[str, str] = {}
    senders: dict[str, str] = {}
    connecting: dict[str, tuple[LogRecord, str]] = {}  #: Q's attempt with no outcome yet

    def ended_without_outcome(queue_id: str, status: str) -> None:
        if (pending := connecting.pop(queue_id, None)) is not None:
            line, host = pending
            fields = {**base(queue_id), "status": status, "relay": host}
            text = f"{line.text}: no outcome logged (the process died)"
            records.append(replace(line, text=text, fields=fields))

    def base(queue_id: str) -> dict[str, str]:
        return {"from": senders.get(queue_id, ""), "to": recipients.get(queue_id, "")}

    for line in lines:
        text, queue_id = line.text, line.queue_id
        if found := _NEW_MAIL.match(text):
            sender = found.group("sender")
            continue
        if found := _QUEUED.match(text):
            queued = found.group("queue_id")
            recipients[queued], senders[queued] = found.group("recipient"), sender
            fields = {"from": sender, "to": found.group("recipient"), "status": "queued"}
            records.append(replace(line, queue_id=queued, fields=fields))
            continue
        if queue_id is None:
            continue
        if found := _TRYING_HOST.match(text):
            ended_without_outcome(queue_id, "deferred")
            connecting[queue_id] = (line, found.group("host"))
            continue
        outcome: dict[str, str] | None = None
        if _SUCCESS.match(text):
            outcome = {"status": "sent", "relay": "smarthost"}
        elif found := _DEFERRED.match(text):
            outcome = {"status": "deferred", "relay": found.group("host")}
        elif found := (_FAILED.match(text) or _GREETING.match(text)):
            outcome = {"status": "bounced", "relay": found.group("host")}
        elif found := _CONNECT.match(text):
            outcome = {"status": "deferred", "relay": "none"}
            if "Connection refused" in found.group("error"):
                key, value = REFUSED_FIELD
                outcome[key] = value
        elif found := _BOUNCING.match(text):
            outcome = {"status": "bounced", "bounce": found.group("bounce_id")}
        if outcome is None:
            continue
        if "bounce" not in outcome:  # `bouncing as` follows the outcome that ended it
            connecting.pop(queue_id, None)
        records.append(replace(line, fields={**base(queue_id), **outcome}))
    for queue_id in list(connecting):
        ended_without_outcome(queue_id, "open")
    return sorted(records, key=lambda r: r.time.timestamp() if r.time else 0.0)


def parse_queue_listing(listing: str) -> list[QueuedMessage]:
    """`== Q<id> <mtime>` then the queue file's `Key: value` lines, per recipient's file. The
    mtime has its fraction: a notice's arrival is when its message was given up, and a whole
    second at x2880 is 48 minutes."""
    messages: list[QueuedMessage] = []
    for chunk in listing.split("== ")[1:]:
        header, *lines = chunk.splitlines()
        file, _, mtime = header.partition(" ")
        info = dict(line.partition(": ")[::2] for line in lines if ": " in line)
        try:
            arrival = datetime.fromtimestamp(float(mtime), UTC)
        except ValueError:
            arrival = None
        if "Recipient" not in info or arrival is None:
            raise TargetError(f"dma: a queue file it cannot read: {chunk!r}")
        sender = info.get("Sender", "")
        messages.append(
            QueuedMessage(
                queue_id=info.get("ID", file.removeprefix("Q")),
                sender=sender,
                recipients=(QueuedRecipient(info["Recipient"]),),
                status="queued",
                arrival=arrival,
                next_attempt=None,
                message_id=id_from_address(sender),
            )
        )
    return messages
