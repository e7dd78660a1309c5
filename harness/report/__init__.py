"""Reports of runs: where they go (`reports/<run-id>/`, `reports/latest`) and how they read."""

from harness.report.run_dir import create_run_dir

__all__ = ["create_run_dir"]
