"""Message fates: what became of every injected message, joined from all the evidence."""

from harness.ledger.ledger import CaseEvidence, Ledger, LedgerExpectationError
from harness.ledger.refused import is_refused_attempt, refused_attempts

__all__ = [
    "CaseEvidence",
    "Ledger",
    "LedgerExpectationError",
    "is_refused_attempt",
    "refused_attempts",
]
