"""Reports of runs: where they go (`reports/<run-id>/`, `reports/latest`) and how they read.

A run's `Matrix` becomes `matrix.json` (everything, read back exactly), `matrix.md` (a CI job
summary), `matrix.html` (one self-contained page with the evidence and retry timelines) and
`junit.xml` (MUST deviations fail, SHOULD deviations are results, harness errors are errors);
`write_reports` writes the four, and `schedule-<target>.svg`/`.png` for each target with a retry
schedule. Baselines pin fates and check outcomes in git, and `compare` lists what changed.

`harness.results.schedule_json` (`attach_schedules`, `read_schedule_json`) is not re-exported
here: it is the one module that imports `harness.schedule`, which imports this package's model.
"""

from harness.errors import ReportWriteError
from harness.report.baseline import (
    Baseline,
    CellBaseline,
    Difference,
    DifferenceKind,
    compare,
    format_differences,
    load_baseline,
    write_baseline,
)
from harness.report.html import cell_anchor, render_html, write_html
from harness.report.junit import render_junit, write_junit
from harness.report.markdown import render_markdown, write_markdown
from harness.report.run_dir import create_run_dir
from harness.report.schedule_reports import write_schedule_reports
from harness.report.writer import write_reports

__all__ = [
    "Baseline",
    "CellBaseline",
    "Difference",
    "DifferenceKind",
    "ReportWriteError",
    "cell_anchor",
    "compare",
    "create_run_dir",
    "format_differences",
    "load_baseline",
    "render_html",
    "render_junit",
    "render_markdown",
    "write_baseline",
    "write_html",
    "write_junit",
    "write_markdown",
    "write_reports",
    "write_schedule_reports",
]
