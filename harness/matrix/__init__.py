"""The compliance matrix: every scenario run on every sender MTA."""

from harness.matrix.runner import (
    DEFAULT_TIME_SCALES,
    Group,
    MatrixRun,
    ObservedCase,
    matrix_groups,
    observe_groups,
    run_matrix,
)

__all__ = [
    "DEFAULT_TIME_SCALES",
    "Group",
    "MatrixRun",
    "ObservedCase",
    "matrix_groups",
    "observe_groups",
    "run_matrix",
]
