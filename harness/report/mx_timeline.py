"""One time line per DNS/MX cell: the lookups, the connections and the sessions, in order.

The question an MX cell answers ("which host, over which family, after which answer") is read
down one list: the zone's answers, each connection the sender opened (refused ones too) and
what the receiver replied in the sessions that followed. Both report formats render it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.report.cells import real_time
from harness.results import CaseResult, Matrix


@dataclass(frozen=True)
class MxEvent:
    """One line of the time line."""

    t: float  #: real seconds since injection
    kind: str  #: `lookup`, `connect` or `session`
    what: str  #: the question, the host and family, the listener
    result: str  #: the answer, `refused`/`session`, the last reply

    def text(self) -> str:
        """`12s connect mx1 ipv6: refused`."""
        return f"{real_time(self.t)} {self.kind} {self.what}: {self.result}"


def mx_cases(matrix: Matrix) -> list[CaseResult]:
    """The cells that have DNS/MX evidence, in matrix order."""
    return [case for case in matrix.cases if case.connections or case.lookups]


def mx_events(case: CaseResult) -> list[MxEvent]:
    """The cell's lookups, connections and sessions, sorted by time (lookups first on ties:
    a sender asks before it connects)."""
    order = {"lookup": 0, "connect": 1, "session": 2}
    events = [
        *(
            MxEvent(q.t, "lookup", f"{q.rtype} {q.name}", q.text().split(" -> ", 1)[1])
            for q in case.lookups
        ),
        *(
            MxEvent(c.t, "connect", f"{c.host} {c.family} ({c.address})", c.outcome)
            for c in case.connections
        ),
        *(
            MxEvent(a.t, "session", a.listener, a.reply or f"no reply ({a.stage})")
            for a in case.attempts
        ),
    ]
    return sorted(events, key=lambda e: (e.t, order[e.kind]))


def connection_summary(case: CaseResult) -> str:
    """`mx1 ipv6 refused, mx1 ipv4 refused, mx2 ipv6 session` for the first try and a count."""
    shown = [f"{c.host} {c.family} {c.outcome}" for c in case.connections[:6]]
    more = len(case.connections) - len(shown)
    text = " → ".join(shown) if shown else "no connection"
    return text + (f" → … ({more} more)" if more > 0 else "")
