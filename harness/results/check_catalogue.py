"""The check ids a scenario may name, each with the RFC clause it judges and how strongly.

Vocabulary, not judgement: the scenario loader (the bottom of the flow) must refuse a check id
that does not exist, and the reports show a check's clause and level, but neither may import
the checks themselves (`harness.conformance`, above the ledger). So the ids live here, at the
bottom, and `harness.conformance.checks` gives each one its function, refusing at import an id
without a function or a function without an id (docs/conformance.md lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.results.case import Level


@dataclass(frozen=True)
class CheckClause:
    """The RFC clause a check judges and the strength of its requirement."""

    clause: str
    level: Level


CHECK_CLAUSES: dict[str, CheckClause] = {
    "retried": CheckClause("RFC5321 4.2.1", Level.SHOULD),
    "retried-452": CheckClause("RFC5321 4.5.3.1.10", Level.SHOULD),
    "retried-after-drop": CheckClause("RFC5321 3.8", Level.SHOULD),
    "no-repeat-after-5xx": CheckClause("RFC5321 4.2.1", Level.SHOULD),
    "no-repeat-after-eod-5xx": CheckClause("RFC5321 4.2.5", Level.SHOULD),
    "queued-not-bounced": CheckClause("RFC5321 4.5.4.1", Level.MUST),
    "retry-delayed": CheckClause("RFC5321 4.5.4.1", Level.MUST),
    "retry-interval-30m": CheckClause("RFC5321 4.5.4.1", Level.SHOULD),
    "give-up-4d": CheckClause("RFC5321 4.5.4.1", Level.SHOULD),
    "delivered-after-recovery": CheckClause("RFC5321 4.5.4.1", Level.MUST),
    "dsn-sent": CheckClause("RFC5321 6.1", Level.MUST),
    "dsn-null-sender": CheckClause("RFC5321 6.1", Level.MUST),
    "dsn-format": CheckClause("RFC3464", Level.MUST),
    "duplicates": CheckClause("RFC1047", Level.INFO),
    "sessions-under-421": CheckClause("RFC5321 3.8", Level.INFO),
    "greeting-timeout-5m": CheckClause("RFC5321 4.5.3.2", Level.SHOULD),
    "eod-timeout-10m": CheckClause("RFC5321 4.5.3.2", Level.SHOULD),
    "client-timeout": CheckClause("RFC5321 4.5.3.2", Level.MUST),
    "code-class-reading": CheckClause("RFC3463", Level.INFO),
    "mx-hosts-tried": CheckClause("RFC5321 5.1", Level.INFO),
    "mx-preference-order": CheckClause("RFC5321 5.1", Level.MUST),
    "mx-two-addresses": CheckClause("RFC5321 5.1", Level.SHOULD),
    "mx-equal-preference-random": CheckClause("RFC5321 5.1", Level.MUST),
    "null-mx": CheckClause("RFC7505", Level.MUST),
    "implicit-mx": CheckClause("RFC5321 5.1", Level.MUST),
    "dns-temporary-failure-queued": CheckClause("RFC5321 5.1", Level.MUST),
    "dns-nxdomain-error": CheckClause("RFC5321 5.1", Level.MUST),
}
