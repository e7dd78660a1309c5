"""Message fates: what became of every injected message, joined from all the evidence."""

from harness.ledger.ledger import CaseEvidence, Ledger, LedgerExpectationError

__all__ = ["CaseEvidence", "Ledger", "LedgerExpectationError"]
