"""Message fates: what became of every injected message, joined from all the evidence."""

from harness.ledger.ledger import CaseEvidence, Ledger, LedgerExpectationError
from harness.ledger.refused import (
    held_by_refusals,
    is_held_by_refusals,
    is_refused_attempt,
    refused_attempts,
)

__all__ = [
    "CaseEvidence",
    "Ledger",
    "LedgerExpectationError",
    "held_by_refusals",
    "is_held_by_refusals",
    "is_refused_attempt",
    "refused_attempts",
]
