"""msmtp, the no-queue relay of web servers: one attempt to its smarthost, and nothing after.

A web server with no MTA hands its mail to msmtp (`sendmail_path = /usr/bin/msmtp -t` in PHP):
msmtp speaks SMTP to the one server its configuration names and exits with the outcome. It has
no queue and no daemon, so a 4xx or a refused connection ends the message there. Its exit
code is all the application learns: `EX_TEMPFAIL` only when it could not connect,
`EX_UNAVAILABLE` for a 4xx reply, `EX_DATAERR` for a 5xx (src/smtp.c, `smtp_send_envelope`,
`smtp_exitcode`); what the application does with it is not msmtp's.
It looks up no MX either: its smarthost does, so a DNS/MX scenario would measure the smarthost,
another MTA, and its cells say so (`dns_not_applicable`). In the matrix the scenario's receiver
is the smarthost msmtp relays to (`image/mailstorm-msmtp`).

Debian installs no `/etc/msmtprc`. The one written here sets the log and an account per
smarthost (host and port) and nothing else, so every other setting is msmtp's own default. The
one that shapes cells is `timeout`, **off** by default (`msmtp --pretend` shows `timeout =
off`): msmtp then waits on a silent server for as long as the kernel keeps the connection,
which for an established connection with nothing to send is for ever. A blackholed session or
a stalled reply holds the sending process until the server speaks or closes; measured, not
shortened. With no time parameter at all there is nothing to scale: every time scale runs the
stock settings, exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from harness.targets.base import SenderTarget, TargetError
from harness.targets.records import REFUSED_FIELD, LogRecord, QueuedMessage
from harness.targets.time_scaling import TimeScaling

CONFIG_FILE = "/etc/msmtprc"
WRAPPER = "/usr/local/bin/mailstorm-msmtp"
PROCESS = "msmtp"
#: The log's stamp: msmtp's `logfile_time_format` (strftime; the container's zone is UTC).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: `key=value` and `key='quoted value'` pairs of a log line (msmtp quotes the message texts).
_FIELD = re.compile(r"(\w+)=('([^']*)'|\S*)")
#: msmtp's words for a refused connection (`cannot connect to HOST, port N: Connection refused`)
_REFUSED = "Connection refused"


class MsmtpTarget(SenderTarget):
    name = "msmtp"
    log_path = "/var/log/msmtp.log"
    ready_command: ClassVar[list[str]] = ["test", "-s", CONFIG_FILE]
    queues: ClassVar[bool] = False
    dns_not_applicable: ClassVar[str | None] = (
        "msmtp relays every message to its one configured smarthost and looks up no MX: a "
        "DNS/MX scenario would measure the smarthost, another MTA"
    )
    #: Nothing in it keeps time between attempts: there are none.
    retry_clock_slack: ClassVar[float] = 0.0

    def scale_time(self) -> TimeScaling:
        """Nothing to scale: msmtp's only time setting, `timeout`, is off by default."""
        return TimeScaling(self.config_scale, ())

    def configure(self) -> None:
        """One account per routed domain, named after it, whose host is the domain's smarthost
        (its scenario's receiver), as a web server's `/etc/msmtprc` names its relay; the log
        in `defaults`. Nothing else is set: msmtp's defaults stand."""
        lines = [
            "# written by mailstorm: a log, an account per smarthost, msmtp's defaults otherwise",
            "defaults",
            f"logfile {self.log_path}",
            f"logfile_time_format {TIME_FORMAT}",
        ]
        for domain, hops in self.routes.routes:
            hop = hops[0]  # a relay has one smarthost
            lines += ["", f"account {domain}", f"host {hop.host}", f"port {hop.port}"]
        self.exec(f"touch {self.log_path} && chmod 0666 {self.log_path}")
        self.put_file(CONFIG_FILE, "\n".join(lines) + "\n")

    def start_mta(self) -> None:
        """No daemon: every submission is its own msmtp process."""

    def submit_command(self, sender: str, recipients: Sequence[str]) -> list[str]:
        """msmtp with the account of the recipients' domain: its smarthost is the receiver."""
        domains = {recipient.rpartition("@")[2].lower() for recipient in recipients}
        routed = {domain for domain, _ in self.routes.routes}
        if len(domains) != 1 or not domains <= routed:
            raise TargetError(
                f"{self.name}: relays a message to one smarthost, an account per routed domain; "
                f"the recipients' domains {sorted(domains)} are not one routed domain"
            )
        [domain] = domains
        return [WRAPPER, "-a", domain, "-f", sender, "--", *recipients]

    def queue(self) -> list[QueuedMessage]:
        """Nothing is ever held."""
        return []

    def first_retry_window(self) -> tuple[float, float] | None:
        """It never retries."""
        return None

    def parse_log_line(self, line: str) -> LogRecord | None:
        """One message's outcome: `<stamp> host=... from=... recipients=... smtpstatus=...
        smtpmsg='...' errormsg='...' exitcode=EX_...`; the queue id is the envelope
        sender (msmtp has none, and each message has its own sender)."""
        stamp, _, rest = line.partition(" ")
        try:
            time = datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return None
        fields = {
            m.group(1): m.group(3) if m.group(3) is not None else m.group(2)
            for m in _FIELD.finditer(rest)
        }
        if "from" not in fields or "exitcode" not in fields:
            raise TargetError(f"{self.name}: a log line it cannot read: {line!r}")
        text = "; ".join(fields[key] for key in ("smtpmsg", "errormsg") if fields.get(key))
        if _REFUSED in fields.get("errormsg", ""):
            key, value = REFUSED_FIELD
            fields[key] = value
        return LogRecord(
            time=time, process=PROCESS, queue_id=fields["from"], text=text, fields=fields, raw=line
        )
