"""The compliance matrix: every scenario run on every sender MTA, whole or in shards."""

from harness.matrix.merge import ShardResult, merge_shards, read_shard
from harness.matrix.runner import DEFAULT_TIME_SCALES, MatrixRun, matrix_groups, run_matrix
from harness.matrix.shards import Shard, shard_of, split

__all__ = [
    "DEFAULT_TIME_SCALES",
    "MatrixRun",
    "Shard",
    "ShardResult",
    "matrix_groups",
    "merge_shards",
    "read_shard",
    "run_matrix",
    "shard_of",
    "split",
]
