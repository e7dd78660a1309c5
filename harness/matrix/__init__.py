"""The compliance matrix: every scenario run on every sender MTA."""

from harness.matrix.runner import DEFAULT_TIME_SCALES, MatrixRun, matrix_groups, run_matrix

__all__ = ["DEFAULT_TIME_SCALES", "MatrixRun", "matrix_groups", "run_matrix"]
