"""A test zone: its records in master-file syntax, how they change over a case, and its faults.

The harness DNS serves one zone per scenario, so an MTA that resolves the scenario's domain
meets exactly what the scenario describes: MX sets with preferences, A and AAAA records for each
MX host, a null MX (`MX 0 .`, RFC 7505), a name with an A record and no MX (the implicit MX of
RFC 5321 5.1), and faults no zone file can express: NXDOMAIN, SERVFAIL, an answer that never
comes, and a UDP answer truncated so that the resolver must ask again over TCP. Records and
faults can be limited to a window of the case's time (a primary MX withdrawn after two hours,
a SERVFAIL for the first hour).

Records are written as RFC 1035 master-file lines (`@ MX 10 mx1`, `mx1 AAAA fd00::11`), parsed
by dnslib, one line at a time so that an error names the line. In TOML:

    [zone]
    origin = "libero.test"
    ttl = "5m"
    records = '''
    @    MX   10 mx1
    mx1  A    172.30.0.11
    '''

    [[zone.phase]]             # during a window: these records are added, these names withdrawn
    from = "2h"
    until = "6h"
    withdraw = ["@ MX"]        # "name" or "name TYPE"
    records = "@ MX 10 mx2"

    [[zone.fault]]
    name = "mx1"               # a name or a glob, relative to the origin (@: the origin)
    type = "A"                 # optional: every type
    answer = "servfail"        # servfail | nxdomain | timeout | truncate
    from = "0"
    until = "1h"
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RR, DNSError

from harness.durations import format_duration, parse_duration
from harness.errors import ZoneError

#: The TTL of records that state none: short, so that a zone change is seen soon.
DEFAULT_TTL = 60
#: The record types the zone serves; other types are answered with no data.
SERVED_TYPES = frozenset({"A", "AAAA", "MX", "NS", "SOA", "TXT", "CNAME"})


class Failure(StrEnum):
    """What a fault makes the server answer instead of the zone's data."""

    SERVFAIL = "servfail"  #: RCODE 2: the server failed; a resolver treats it as temporary
    NXDOMAIN = "nxdomain"  #: RCODE 3: the name does not exist
    TIMEOUT = "timeout"  #: no answer at all: the resolver times out and retries
    TRUNCATE = "truncate"  #: over UDP, an empty answer with TC set; over TCP, the data


@dataclass(frozen=True)
class Window:
    """A span of case time, in real seconds since the case started: [start, end)."""

    start: float = 0.0
    end: float | None = None  #: None: to the end of the case

    def holds(self, t: float) -> bool:
        """Whether case time `t` lies in the window."""
        return self.start <= t and (self.end is None or t < self.end)

    def text(self) -> str:
        """`from 2h until 6h`, `from 0ms` for an open window."""
        until = f" until {format_duration(self.end)}" if self.end is not None else ""
        return f"from {format_duration(self.start)}{until}"


@dataclass(frozen=True)
class Record:
    """One resource record, as dnslib parsed it, and when it is served."""

    rr: RR
    line: str  #: the master-file line it came from, for errors and the journal
    window: Window = Window()
    phase: int = 0  #: 0: the zone's own records; n: added by the n-th phase

    @property
    def name(self) -> str:
        """The owner name, absolute and lowercase (`mx1.libero.test.`)."""
        return str(self.rr.rname).lower()

    @property
    def rtype(self) -> str:
        """The record type (`MX`, `AAAA`)."""
        return str(QTYPE[self.rr.rtype])


@dataclass(frozen=True)
class Withdrawal:
    """Records hidden during a window: every record of a name, or of one type at it."""

    name: str  #: absolute and lowercase
    rtype: str | None
    window: Window
    phase: int = 0  #: the phase that withdraws them; the records it adds stay

    def hides(self, record: Record, t: float) -> bool:
        return (
            self.window.holds(t)
            and record.phase != self.phase
            and record.name == self.name
            and (self.rtype is None or record.rtype == self.rtype)
        )


@dataclass(frozen=True)
class Fault:
    """During its window, questions for matching names (and type) get `failure` instead."""

    name: str  #: an absolute, lowercase name or glob (`*.libero.test.`)
    rtype: str | None
    failure: Failure
    window: Window = Window()

    def describe(self) -> str:
        """`servfail for x.test. MX from 0ms until 1h`: how the journal names the fault."""
        rtype = f" {self.rtype}" if self.rtype else ""
        return f"{self.failure.value} for {self.name}{rtype} {self.window.text()}"

    def matches(self, name: str, rtype: str, t: float) -> bool:
        """Whether this fault answers the question (`name` absolute, lowercase) at `t`."""
        return (
            self.window.holds(t)
            and fnmatch.fnmatchcase(name, self.name)
            and (self.rtype is None or self.rtype == rtype)
        )


@dataclass(frozen=True)
class Zone:
    """The records of one origin, their withdrawals, and the faults in front of them."""

    origin: str  #: absolute, lowercase, ending with a dot (`libero.test.`)
    records: tuple[Record, ...]
    withdrawals: tuple[Withdrawal, ...] = ()
    faults: tuple[Fault, ...] = ()

    def contains(self, name: str) -> bool:
        """Whether `name` (absolute, lowercase) is at or below the origin."""
        return name == self.origin or name.endswith("." + self.origin)

    def fault(self, name: str, rtype: str, t: float) -> Fault | None:
        """The first fault that answers this question at case time `t`, if any."""
        return next((f for f in self.faults if f.matches(name, rtype, t)), None)

    def served(self, t: float) -> list[Record]:
        """Every record served at case time `t`."""
        return [
            r
            for r in self.records
            if r.window.holds(t) and not any(w.hides(r, t) for w in self.withdrawals)
        ]

    def lookup(self, name: str, rtype: str, t: float) -> tuple[list[Record], bool]:
        """The records answering (`name`, `rtype`) at `t`, and whether the name exists then
        (it does when it owns any record: a name without the asked type is NODATA, not
        NXDOMAIN). A CNAME at the name answers every type."""
        at_name = [r for r in self.served(t) if r.name == name]
        matching = [r for r in at_name if r.rtype == rtype or rtype == "ANY"]
        if not matching:
            matching = [r for r in at_name if r.rtype == "CNAME"]
        return matching, bool(at_name)


def parse_zone(data: Any, *, source: str, default_origin: str | None = None) -> Zone:
    """A `Zone` from the `[zone]` table of a TOML file (or a scenario's).

    Every problem raises `ZoneError` naming `source`, the key and, for a record, its line.
    """
    if not isinstance(data, Mapping):
        raise ZoneError(f"{source}: [zone] must be a table, not {type(data).__name__}")
    _refuse_unknown(data, {"origin", "ttl", "records", "phase", "fault"}, f"{source}: [zone]")
    origin = _origin(data.get("origin", default_origin), source)
    ttl = _ttl(data.get("ttl", DEFAULT_TTL), f"{source}: [zone] ttl")
    records = list(_records(data.get("records", ""), origin, ttl, Window(), f"{source}: [zone]"))
    withdrawals: list[Withdrawal] = []
    for index, phase in enumerate(_tables(data.get("phase", []), f"{source}: [[zone.phase]]")):
        where = f"{source}: [[zone.phase]] #{index + 1}"
        _refuse_unknown(phase, {"from", "until", "records", "withdraw"}, where)
        window = _window(phase, where)
        records += _records(phase.get("records", ""), origin, ttl, window, where, index + 1)
        withdrawals += _withdrawals(phase.get("withdraw", []), origin, window, where, index + 1)
    faults = [
        _fault(fault, origin, f"{source}: [[zone.fault]] #{index + 1}")
        for index, fault in enumerate(_tables(data.get("fault", []), f"{source}: [[zone.fault]]"))
    ]
    if not records:
        raise ZoneError(f"{source}: [zone] has no records: a zone needs at least one")
    return Zone(origin, tuple(records), tuple(withdrawals), tuple(faults))


def load_zone(path: str | Path) -> Zone:
    """A zone from a TOML file with a `[zone]` table; errors name the file, the key and, for
    a record, its line."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ZoneError(f"{source}: cannot read the zone file: {error.strerror or error}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ZoneError(f"{source}: invalid TOML: {error}") from None
    if "zone" not in document:
        raise ZoneError(f"{source}: no [zone] table")
    return parse_zone(document["zone"], source=source)


def absolute(name: str, origin: str) -> str:
    """`name` relative to `origin` made absolute and lowercase (`@` is the origin)."""
    name = name.strip().lower()
    if name in ("@", ""):
        return origin
    return name if name.endswith(".") else f"{name}.{origin}"


def _origin(value: Any, source: str) -> str:
    if not isinstance(value, str) or not value.strip(".").strip():
        raise ZoneError(f'{source}: [zone] origin: a domain name is needed (origin = "x.test")')
    return value.strip().lower().rstrip(".") + "."


def _ttl(value: Any, where: str) -> int:
    try:
        seconds = parse_duration(value)
    except (TypeError, ValueError) as error:
        raise ZoneError(f"{where}: {error}") from None
    return int(seconds)


def _window(table: Mapping[str, Any], where: str) -> Window:
    try:
        start = parse_duration(table.get("from", 0))
        until = table.get("until")
        end = None if until is None else parse_duration(until)
    except (TypeError, ValueError) as error:
        raise ZoneError(f"{where}: from/until: {error}") from None
    if end is not None and end <= start:
        raise ZoneError(f"{where}: until ({until}) must come after from ({table.get('from', 0)})")
    return Window(start, end)


def _records(
    text: Any, origin: str, ttl: int, window: Window, where: str, phase: int = 0
) -> list[Record]:
    if not isinstance(text, str):
        raise ZoneError(f"{where}: records must be master-file lines in a string")
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        try:
            parsed = RR.fromZone(line, origin=origin, ttl=ttl)
        except (DNSError, ValueError, IndexError, KeyError) as error:
            raise ZoneError(f"{where}: records line {number} {line!r}: {error}") from None
        if len(parsed) != 1:
            raise ZoneError(f"{where}: records line {number} {line!r}: not one record")
        record = Record(parsed[0], line, window, phase)
        if record.rtype not in SERVED_TYPES:
            raise ZoneError(
                f"{where}: records line {number} {line!r}: type {record.rtype} is not served "
                f"(served: {', '.join(sorted(SERVED_TYPES))})"
            )
        found.append(record)
    return found


def _withdrawals(
    value: Any, origin: str, window: Window, where: str, phase: int
) -> list[Withdrawal]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ZoneError(f'{where}: withdraw must be a list of "name" or "name TYPE"')
    found = []
    for item in value:
        parts = item.split()
        if len(parts) not in (1, 2):
            raise ZoneError(f'{where}: withdraw {item!r}: expected "name" or "name TYPE"')
        rtype = parts[1].upper() if len(parts) == 2 else None
        if rtype is not None and rtype not in SERVED_TYPES:
            raise ZoneError(f"{where}: withdraw {item!r}: unknown type {parts[1]}")
        found.append(Withdrawal(absolute(parts[0], origin), rtype, window, phase))
    return found


def _fault(table: Mapping[str, Any], origin: str, where: str) -> Fault:
    _refuse_unknown(table, {"name", "type", "answer", "from", "until"}, where)
    name = table.get("name", "@")
    if not isinstance(name, str):
        raise ZoneError(f"{where}: name must be a string")
    rtype = table.get("type")
    if rtype is not None and (not isinstance(rtype, str) or rtype.upper() not in SERVED_TYPES):
        raise ZoneError(f"{where}: type {rtype!r} is not one of {', '.join(sorted(SERVED_TYPES))}")
    answer = table.get("answer")
    try:
        failure = Failure(str(answer))
    except ValueError:
        choices = ", ".join(f.value for f in Failure)
        raise ZoneError(f"{where}: answer {answer!r} is not one of {choices}") from None
    return Fault(
        absolute(name, origin),
        rtype.upper() if isinstance(rtype, str) else None,
        failure,
        _window(table, where),
    )


def _tables(value: Any, where: str) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ZoneError(f"{where}: expected an array of tables")
    return value


def _refuse_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ZoneError(
            f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
