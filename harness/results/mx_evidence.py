"""What a DNS/MX case saw besides SMTP sessions: every connection to an MX host, every lookup.

An MX scenario asks which host the sender tried, over which address family, in which order,
after which DNS answer. The receiver's sessions answer only for connections something accepted;
a refused primary leaves no session. So a case keeps every connection the sender opened towards
its MX hosts (read off the wire: `harness.receiver.connection_log`), named by host and family,
and every question its domain's zone was asked, both in real MTA seconds since injection like
the attempts, so the reports can put lookups, connections and sessions on one time line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Connection:
    """One TCP connection the sender opened to an MX host of the case, answered or not."""

    t: float  #: real seconds since injection
    host: str  #: the MX host (`mx1`; `apex` for the domain's own address)
    family: str  #: `ipv4` or `ipv6`
    address: str
    #: what became of it at the receiver: `session` (accepted: a session follows), `refused`
    #: (nothing listened), or `unanswered` (accepted by nothing, refused by nothing: dropped)
    outcome: str = "session"
    preference: int | None = None  #: the host's MX preference; None: no MX names it

    @property
    def listener(self) -> str:
        """The receiver's listener for it (`mx1.ipv6`)."""
        return f"{self.host}.{self.family}"


@dataclass(frozen=True)
class Lookup:
    """One question the case's zone was asked, and the answer (or none)."""

    t: float  #: real seconds since injection (negative: before the first message)
    name: str
    rtype: str
    rcode: str | None  #: None: no answer was sent (a `timeout` fault)
    answers: tuple[str, ...] = ()
    transport: str = "udp"
    fault: str | None = None  #: the zone fault that decided the answer, if one did

    def text(self) -> str:
        """`MX mx-x.mailstorm.test. -> NOERROR 10 mx1..., 20 mx2...` for the reports."""
        if self.rcode is None:
            result = "no answer"
        else:
            data = [a.split(None, 4)[-1] for a in self.answers]
            result = self.rcode + (f" {', '.join(data)}" if data else "")
        via = " (tcp)" if self.transport == "tcp" else ""
        return f"{self.rtype} {self.name}{via} -> {result}"
