"""Checks on DNS and MX behaviour: RFC 5321 5.1 and RFC 7505 (docs/dns.md).

They judge what the case saw on the wire and in the harness DNS: every connection to an MX
host (refused ones too), each with its host, family and preference, the sessions the receiver
held, and every lookup of the scenario's zone. A check whose situation did not arise (no
connection at all, no temporary DNS failure answered) says "not applicable".
"""

from __future__ import annotations

from collections import Counter

from harness.conformance.check_input import CheckFunction, CheckInput
from harness.durations import format_duration
from harness.results import Connection, Fate, Outcome

#: Real seconds within which a null MX must fail the message: "at once", before any retry
#: (the shortest stock retry, Postfix's, is 5 minutes; Exim's 15).
AT_ONCE = 5 * 60.0
#: Messages the equal-preference check needs before one host taking all of them is a finding:
#: with two hosts picked at random, all of 8 on one host has probability 2 x 2^-8 < 1%.
RANDOM_SAMPLE = 8
#: How many connections the evidence text lists, in order.
SHOWN = 8


def _where(connection: Connection) -> str:
    return f"{connection.host} {connection.family}"


def _sequence(connections: tuple[Connection, ...]) -> str:
    shown = [f"{_where(c)} {c.outcome} at {format_duration(c.t)}" for c in connections[:SHOWN]]
    more = len(connections) - SHOWN
    return " -> ".join(shown) + (f" -> ... ({more} more)" if more > 0 else "")


def _mx_hosts_tried(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """The evidence itself: the connections in order, and how many per host and family."""
    connections = check.evidence.connections
    per = Counter(_where(c) for c in connections)
    measured: dict[str, object] = {
        "connections": len(connections),
        "per_address": dict(sorted(per.items())),
        "lookups": len(check.evidence.lookups),
    }
    if not connections:
        return Outcome.INFO, "no connection to any MX host", measured
    return Outcome.INFO, _sequence(connections), measured


def _preference_order(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 5321 5.1: MX hosts MUST be tried in order of preference, the lowest value first."""
    connections = check.evidence.connections
    preferences = check.mx_preferences
    if not connections or not preferences:
        return Outcome.NOT_APPLICABLE, "no connection to an MX host", {}
    lowest = min(preferences.values())
    first = connections[0]
    measured: dict[str, object] = {
        "first_host": first.host,
        "first_family": first.family,
        "first_preference": first.preference,
        "lowest_preference": lowest,
    }
    if first.preference == lowest:
        return (
            Outcome.PASS,
            f"first connection to {_where(first)} (preference {lowest}, the most preferred)",
            measured,
        )
    return (
        Outcome.DEVIATION,
        f"first connection to {_where(first)} (preference {first.preference}) before any "
        f"host of preference {lowest}",
        measured,
    )


def _two_addresses(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 5321 5.1: when an address fails, the client SHOULD try at least two addresses
    (another family of the host, or the next MX) before it gives up on the attempt."""
    e = check.evidence
    # An address was tried when a connection to it failed (refused, unanswered) or one of
    # its sessions attempted a delivery or was refused; an idle session (the sender said
    # EHLO and left, having nothing to send on it) tried nothing there.
    busy = {attempt.listener for attempt in e.attempts if not attempt.is_idle}
    tried = [c for c in e.connections if c.outcome != "session" or c.listener in busy]
    idle = list(dict.fromkeys(_where(c) for c in e.connections if c not in tried))
    addresses = list(dict.fromkeys(c.address for c in tried))
    hosts = list(dict.fromkeys(_where(c) for c in tried))
    measured: dict[str, object] = {
        "addresses": len(addresses),
        "idle_only": idle,
        "fates": e.counts(),
    }
    besides = (
        f"; idle sessions only (EHLO, then QUIT with nothing to send: no try) at {', '.join(idle)}"
        if idle
        else ""
    )
    if not e.connections:
        return Outcome.NOT_APPLICABLE, "no connection to an MX host", measured
    if not tried:
        return Outcome.NOT_APPLICABLE, f"no connection attempted a delivery{besides}", measured
    if len(addresses) >= 2:
        return (
            Outcome.PASS,
            f"tried {len(addresses)} addresses: {', '.join(hosts)}{besides}",
            measured,
        )
    fates = {f.fate for f in e.fates}
    if fates <= {Fate.DELIVERED, Fate.DUPLICATED} and e.fates:
        return Outcome.NOT_APPLICABLE, f"delivered on the first address ({hosts[0]})", measured
    return Outcome.DEVIATION, f"only one address tried ({hosts[0]}){besides}", measured


def _equal_preference(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 5321 5.1: hosts of equal preference SHOULD be tried in random order, spreading
    the load: which host delivered each message."""
    preferences = check.mx_preferences
    if not preferences:
        return Outcome.NOT_APPLICABLE, "no MX hosts", {}
    lowest = min(preferences.values())
    equal = sorted(h for h, p in preferences.items() if p == lowest)
    first_session: dict[str, str] = {}
    for attempt in sorted(check.evidence.attempts, key=lambda a: a.t):
        if attempt.message_id and attempt.message_id not in first_session:
            first_session[attempt.message_id] = attempt.listener.split(".")[0]
    counts = Counter(first_session.values())
    shares = ", ".join(f"{host}: {counts.get(host, 0)}" for host in equal)
    measured: dict[str, object] = {
        "messages": len(first_session),
        "per_host": {host: counts.get(host, 0) for host in equal},
    }
    if len(equal) < 2:
        return Outcome.NOT_APPLICABLE, "one most-preferred host: nothing to randomize", measured
    if all(counts.get(host, 0) for host in equal):
        return Outcome.PASS, f"first sessions of {len(first_session)} messages: {shares}", measured
    if len(first_session) < RANDOM_SAMPLE:
        return (
            Outcome.INCONCLUSIVE,
            f"{len(first_session)} messages ({shares}): too few to tell a fixed order from chance",
            measured,
        )
    chance = len(equal) * len(equal) ** -len(first_session)
    return (
        Outcome.DEVIATION,
        f"every one of {len(first_session)} messages went to one host first ({shares}); "
        f"chosen at random that has probability {chance:.1%}",
        measured,
    )


def _null_mx(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 7505: a domain whose MX is `0 .` accepts no mail; a sender must not try to
    deliver to it and fails the message at once (RFC 7505 registers the status 5.1.10 for it:
    the detail shows which status the DSN used)."""
    e = check.evidence
    u = check.time_uncertainty
    bounced = sorted(f.settled_t or 0.0 for f in e.fates if f.fate is Fate.BOUNCED)
    status = next((block.status for _, _, report in e.dsns for block in report.recipients), None)
    measured: dict[str, object] = {
        "connections": len(e.connections),
        "sessions": len(e.attempts),
        "fates": e.counts(),
        "dsn_status": status,
    }
    if e.connections or e.attempts:
        return (
            Outcome.DEVIATION,
            f"connected despite the null MX: {_sequence(e.connections)}",
            measured,
        )
    if not bounced or len(bounced) < len(e.fates):
        return Outcome.DEVIATION, f"not failed: {e.counts()}", measured
    measured["bounced_at"] = round(bounced[-1])
    when = format_duration(bounced[-1]) + (f" ± {format_duration(u)}" if u else "")
    if bounced[-1] - u > AT_ONCE:
        return Outcome.DEVIATION, f"failed only after {when}, not at once", measured
    return Outcome.PASS, f"no connection; failed after {when}, DSN status {status}", measured


def _implicit_mx(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 5321 5.1: a domain with no MX but an address record is its own MX (the implicit
    MX): the sender MUST deliver to that address."""
    e = check.evidence
    apex = [c for c in e.connections if c.host == "apex"]
    measured: dict[str, object] = {"connections_to_domain": len(apex), "fates": e.counts()}
    delivered = {f.fate for f in e.fates} <= {Fate.DELIVERED, Fate.DUPLICATED} and e.fates
    if apex and delivered:
        return Outcome.PASS, f"delivered to the domain's own address ({_where(apex[0])})", measured
    if not apex:
        return Outcome.DEVIATION, f"never connected to the domain's address: {e.counts()}", measured
    return (
        Outcome.DEVIATION,
        f"connected to the domain's address, not delivered: {e.counts()}",
        measured,
    )


def _temporary_dns_failure(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 5321 5.1: a temporary failure of the lookup (SERVFAIL, no answer) MUST leave the
    message queued, not bounced."""
    e = check.evidence
    temporary = [q for q in e.lookups if q.rcode in (None, "SERVFAIL")]
    measured: dict[str, object] = {"temporary_failures": len(temporary), "fates": e.counts()}
    if not temporary:
        return Outcome.NOT_APPLICABLE, "no lookup met a temporary failure", measured
    fates = {f.fate for f in e.fates}
    if fates & {Fate.BOUNCED, Fate.LOST}:
        return (
            Outcome.DEVIATION,
            f"bounced after {len(temporary)} temporary lookup failures: {e.counts()}",
            measured,
        )
    last = format_duration(max(q.t for q in temporary))
    return (
        Outcome.PASS,
        f"queued through {len(temporary)} temporary lookup failures (the last at {last}): "
        f"{e.counts()}",
        measured,
    )


def _nxdomain_reported(check: CheckInput) -> tuple[Outcome, str, dict[str, object]]:
    """RFC 5321 5.1: "If a non-existent domain error is returned, this situation MUST be
    reported as an error": the message fails (a DSN), it is not queued for later."""
    e = check.evidence
    nxdomain = [q for q in e.lookups if q.rcode == "NXDOMAIN"]
    measured: dict[str, object] = {"nxdomain_answers": len(nxdomain), "fates": e.counts()}
    if not nxdomain:
        return Outcome.NOT_APPLICABLE, "no lookup was answered NXDOMAIN", measured
    fates = {f.fate for f in e.fates}
    if fates == {Fate.BOUNCED}:
        when = max(f.settled_t or 0.0 for f in e.fates)
        return (
            Outcome.PASS,
            f"reported as an error: bounced after {format_duration(when)}",
            measured,
        )
    return Outcome.DEVIATION, f"not reported as an error: {e.counts()}", measured


#: The DNS/MX check ids and their functions (clauses: harness.results.check_catalogue).
MX_CHECKS: dict[str, CheckFunction] = {
    "mx-hosts-tried": _mx_hosts_tried,
    "mx-preference-order": _preference_order,
    "mx-two-addresses": _two_addresses,
    "mx-equal-preference-random": _equal_preference,
    "null-mx": _null_mx,
    "implicit-mx": _implicit_mx,
    "dns-temporary-failure-queued": _temporary_dns_failure,
    "dns-nxdomain-error": _nxdomain_reported,
}
