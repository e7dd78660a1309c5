"""All the reports of a run, written into its run directory in one call.

The caller owns the directory (`create_run_dir` makes a fresh one per run and points `latest` at
it); this only fills it, so tests and tools can write reports anywhere.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import ReportWriteError
from harness.report.html import MATRIX_HTML, write_html
from harness.report.junit import JUNIT_XML, write_junit
from harness.report.markdown import MATRIX_MD, write_markdown
from harness.report.matrix_json import MATRIX_JSON, write_matrix_json
from harness.report.model import Matrix


def write_reports(matrix: Matrix, run_dir: str | Path) -> dict[str, Path]:
    """Write matrix.json, matrix.md, matrix.html and junit.xml into `run_dir`.

    Returns the paths by kind: `json`, `markdown`, `html`, `junit`. matrix.json is written first:
    it is the one every other report can be regenerated from, so it should survive a failure
    of the others.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportWriteError(f"cannot write reports into {run_dir}: not a directory")
    return {
        "json": write_matrix_json(matrix, run_dir / MATRIX_JSON),
        "markdown": write_markdown(matrix, run_dir / MATRIX_MD),
        "html": write_html(matrix, run_dir / MATRIX_HTML),
        "junit": write_junit(matrix, run_dir / JUNIT_XML),
    }
