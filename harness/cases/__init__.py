"""The case engine: start a container per group of scenarios, inject, observe, and judge.

Both the matrix (`harness.matrix`) and the schedule runner (`harness.schedule`) run their cases
through it; neither imports the other.
"""

from harness.cases.applicability import not_applicable_reason
from harness.cases.engine import (
    Group,
    ObservedCase,
    give_up_window,
    observe_groups,
    retry_window,
    run_groups,
)
from harness.cases.grouping import sharing_sets

__all__ = [
    "Group",
    "ObservedCase",
    "give_up_window",
    "not_applicable_reason",
    "observe_groups",
    "retry_window",
    "run_groups",
    "sharing_sets",
]
