"""Reading what Exim did: its mainlog, `exim -bp`, its msglogs and `exim_dumpdb` of the retry
database, as typed records. Pure functions (no container); `driver.py` feeds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.targets.records import LogRecord

#: 4.96 ids are 6-6-2 (`1tABcD-000ABC-Xy`); 4.97 and later use 6-11-4.
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID = r"[0-9A-Za-z]{6}-(?:[0-9A-Za-z]{11}-[0-9A-Za-z]{4}|[0-9A-Za-z]{6}-[0-9A-Za-z]{2})"


_ID_RE = re.compile(rf"^{_ID}$")


_LOG_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)(?: (?P<zone>[+-]\d{4}))?"
    r"(?: \[\d+(?:/\S+)?\])? (?:(?P<queue_id>" + _ID + r") )?(?P<text>.*)$"
)


#: The flags of delivery lines (spec, "Log line flags").
_FLAGS = {
    "<=": "received",
    "(=": "received",  # a message fakereject'ed
    "=>": "delivered",
    "->": "delivered",  # another address in the same delivery
    ">>": "delivered",  # a cutthrough delivery
    "*>": "suppressed",
    "==": "deferred",
    "**": "failed",
}


_ADDRESS = re.compile(r"^(?P<address>\S+)(?: <(?P<parent>[^>]*)>)?(?: (?P<rest>.*))?$")


_FIELD = re.compile(r'(?:^| )([A-Za-z]{1,3})=("(?:[^"\\]|\\.)*"|\S+)')


_HOST = re.compile(r"(?:^| )H=(?P<host>(?:[^\s\[]+ )?\[[^\]]+\](?::\d+)?|\S+)")


#: `exim -bp`: the age/size/id/sender line, then one indented line per recipient.
_QUEUE_HEAD = re.compile(
    r"^\s*(?P<age>\d+[smhdw])\s+(?P<size>[\d.]+[KMG]?)\s+(?P<queue_id>" + _ID + r")"
    r" <(?P<sender>[^>]*)>(?P<frozen> \*\*\* frozen \*\*\*)?"
)


_QUEUE_RCPT = re.compile(r"^\s+(?P<delivered>\+?D )?(?P<address>\S+)")


_MSGLOG_DEFER = re.compile(
    r"^(?P<path>[^:]+):\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\S* (?:[+-]\d{4} )?(?P<address>\S+)"
    r".*? defer \(-?\d+\):? (?P<reason>.*)$"
)


#: `exim_dumpdb -z <spool> retry`: a key line, then first-failed, last-tried, next-try.
_RETRY_TIMES = re.compile(
    r"^(\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d)\s+(\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d)"
    r"\s+(\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d)(\s+\*)?\s*$"
)


_RETRY_KEY = re.compile(
    r"^\s*(?P<key>[RT]:\S+)\s+(?P<code>-?\d+)\s+(?P<more>-?\d+)\s?(?P<text>.*)$"
)


@dataclass(frozen=True)
class RetryEntry:
    """One record of Exim's retry database: a host (T:) or address (R:) key and its times."""

    key: str
    text: str
    first_failed: datetime
    last_tried: datetime
    next_try: datetime
    expired: bool  #: the cutoff of the last retry rule has passed


def id_time(queue_id: str) -> datetime | None:
    """When the message arrived: an id's first six characters are its Unix time, base 62."""
    if not _ID_RE.match(queue_id):
        return None
    seconds = 0
    for char in queue_id[:6]:
        seconds = seconds * 62 + _BASE62.index(char)
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class QueueListing:
    """One message of `exim -bp`, as listed."""

    queue_id: str
    sender: str
    size: str
    age: str
    frozen: bool
    recipients: tuple[str, ...]
    delivered: frozenset[str]


def parse_queue_listing(output: str) -> list[QueueListing]:
    """`exim -bp` output: a head line per message, then its recipients (`D ` once delivered)."""
    listings: list[QueueListing] = []
    head: re.Match[str] | None = None
    recipients: list[str] = []
    delivered: set[str] = set()

    def flush() -> None:
        if head is not None:
            listings.append(
                QueueListing(
                    queue_id=head.group("queue_id"),
                    sender=head.group("sender"),
                    size=head.group("size"),
                    age=head.group("age"),
                    frozen=bool(head.group("frozen")),
                    recipients=tuple(recipients),
                    delivered=frozenset(delivered),
                )
            )

    for line in output.splitlines():
        if found := _QUEUE_HEAD.match(line):
            flush()
            head, recipients, delivered = found, [], set()
        elif head is not None and (rcpt := _QUEUE_RCPT.match(line)):
            recipients.append(rcpt.group("address"))
            if rcpt.group("delivered"):
                delivered.add(rcpt.group("address"))
    flush()
    return listings


def parse_msglog_deferrals(output: str) -> dict[str, dict[str, str]]:
    """The last deferral reason per queue id and (lower-cased) recipient, from `grep -H` over
    the per-message logs: `<path>:<time> <address> R=... T=... defer (<errno>) <reason>`."""
    reasons: dict[str, dict[str, str]] = {}
    for line in output.splitlines():
        if found := _MSGLOG_DEFER.match(line):
            queue_id = found.group("path").rpartition("/")[2]
            reason = found.group("reason")
            reasons.setdefault(queue_id, {})[found.group("address").lower()] = reason
    return reasons


def parse_retry_db(output: str) -> list[RetryEntry]:
    """`exim_dumpdb -z <spool> retry`: a key line with the error, then three UTC times."""
    entries: list[RetryEntry] = []
    key: re.Match[str] | None = None
    for line in output.splitlines():
        if found := _RETRY_KEY.match(line):
            key = found
        elif key is not None and (times := _RETRY_TIMES.match(line.strip())):
            first, last, following = (_dump_time(times.group(i)) for i in (1, 2, 3))
            entries.append(
                RetryEntry(
                    key=key.group("key"),
                    text=key.group("text").strip(),
                    first_failed=first,
                    last_tried=last,
                    next_try=following,
                    expired=bool(times.group(4)),
                )
            )
            key = None
    return entries


def parse_log_line(line: str) -> LogRecord | None:
    """A mainlog line: time, optional id, then a flag (`<= => -> == ** *>`) or words.

    `process` is the flag, `H` for a host's error (`H=... Connection refused`), or else the
    line's first word (`Completed`, `Frozen`, `Start`, `exim`, ...). Fields: `status`
    (received, delivered, deferred, failed, suppressed, completed, frozen), `to`/`from` (the
    address after the flag), `parent`, the `X=value` fields (R, T, S, P, U, id, C, ...; quotes
    removed), `host` (H=: name and [ip]:port as logged) and `reason` (the error text of a
    deferral, failure or host error; the server's confirmation of a delivery).
    """
    found = _LOG_LINE.match(line)
    if found is None:
        return None
    text = found.group("text")
    flag, _, rest = text.partition(" ")
    fields: dict[str, str] = {}
    if flag in _FLAGS:
        fields["status"] = _FLAGS[flag]
        process = flag
        fields.update(_address_fields(flag, rest))
    elif flag.startswith("H=") and (host := _HOST.match(text)):
        # A host-level error of a delivery (`H=name [ip]:port Connection refused`).
        process = "H"
        fields["host"] = fields["H"] = host.group("host")
        fields["reason"] = text[host.end() :].strip()
    else:
        process = flag.rstrip(":") or text
        word = text.strip().lower()
        if word == "completed" or word.startswith("completed "):
            fields["status"] = "completed"
        elif "frozen" in word:
            fields["status"] = "frozen"
    return LogRecord(
        time=_log_time(found.group("time"), found.group("zone")),
        process=process,
        queue_id=found.group("queue_id"),
        text=text,
        fields=fields,
        raw=line,
    )


def _address_fields(flag: str, rest: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    address = _ADDRESS.match(rest)
    if address is None:
        return fields
    recipient, tail = address.group("address"), address.group("rest") or ""
    if recipient.endswith(":"):  # `** address: reason`, from a router: no fields to read
        recipient, tail = recipient[:-1], f": {tail}"
    fields["from" if flag in ("<=", "(=") else "to"] = recipient.strip("<>")
    if address.group("parent"):
        fields["parent"] = address.group("parent")
    # Error text follows the first ": " after the fields (`H=host [ip]: SMTP error ...`).
    head, separator, error = tail.partition(": ")
    if flag in ("==", "**") and separator:
        fields["reason"] = error
    else:
        head = tail
    for key, value in _FIELD.findall(head):
        fields.setdefault(key, value[1:-1] if value.startswith('"') else value)
    host = _HOST.search(head)
    if host is not None:
        fields["host"] = fields["H"] = host.group("host")
    if flag in ("=>", "->", ">>") and "C" in fields:
        fields["reason"] = fields["C"]
    if flag == "==" and "reason" not in fields:
        fields["reason"] = head
    return fields


def _log_time(stamp: str, zone: str | None) -> datetime | None:
    """Mainlog stamps are local time, UTC in the container, unless `log_timezone` adds one."""
    try:
        return datetime.fromisoformat(f"{stamp}{zone or '+0000'}")
    except ValueError:
        return None


def _dump_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%d-%b-%Y %H:%M:%S").replace(tzinfo=UTC)
