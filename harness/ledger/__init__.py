"""Message fates: what became of every injected message, joined from all the evidence."""

from harness.ledger.clock_check import (
    case_warp_uncertainty,
    clock_inconsistency,
    logged_attempts,
    target_warp_uncertainty,
    trusted_warp_uncertainty,
    unseen_attempts,
    warp_uncertainty,
)
from harness.ledger.latency_timeouts import latency_timeouts
from harness.ledger.ledger import CaseEvidence, Ledger, LedgerExpectationError
from harness.ledger.notices import without_notice_sessions
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
    "case_warp_uncertainty",
    "clock_inconsistency",
    "held_by_refusals",
    "is_held_by_refusals",
    "is_refused_attempt",
    "latency_timeouts",
    "logged_attempts",
    "refused_attempts",
    "target_warp_uncertainty",
    "trusted_warp_uncertainty",
    "unseen_attempts",
    "warp_uncertainty",
    "without_notice_sessions",
]
