"""Conformance checks: the evidence of a case judged against RFC clauses."""

from harness.conformance.checks import CHECKS, CheckInput, RetryWindow, run_checks

__all__ = ["CHECKS", "CheckInput", "RetryWindow", "run_checks"]
