"""Conformance checks: the evidence of a case judged against RFC clauses."""

from harness.conformance.check_input import CheckInput, GiveUpWindow, RetryWindow
from harness.conformance.checks import CHECKS, run_checks

__all__ = ["CHECKS", "CheckInput", "GiveUpWindow", "RetryWindow", "run_checks"]
