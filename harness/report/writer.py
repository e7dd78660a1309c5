"""All the reports of a run, written into its run directory in one call.

The caller owns the directory (`create_run_dir` makes a fresh one per run and points `latest` at
it); this only fills it, so tests and tools can write reports anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import ReportWriteError
from harness.files import write_bytes_atomically, write_text_atomically
from harness.report import cells
from harness.report.html import MATRIX_HTML, write_html
from harness.report.junit import JUNIT_XML, write_junit
from harness.report.markdown import MATRIX_MD, write_markdown
from harness.report.schedule_plot import schedule_png
from harness.report.schedule_svg import schedule_span, schedule_timeline_svg
from harness.results import Matrix
from harness.results.matrix_json import MATRIX_JSON, write_matrix_json

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def write_reports(matrix: Matrix, run_dir: str | Path) -> dict[str, Path]:
    """Write matrix.json, matrix.md, matrix.html and junit.xml into `run_dir`, and per target
    with a retry schedule `schedule-<target>.svg` and `schedule-<target>.png`.

    Returns the paths by kind: `json`, `markdown`, `html`, `junit`, and `schedule <target> svg`,
    `schedule <target> png` per schedule. matrix.json is written first: it is the one every
    other report can be regenerated from, so it should survive a failure of the others.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportWriteError(f"cannot write reports into {run_dir}: not a directory")
    written = {
        "json": write_matrix_json(matrix, run_dir / MATRIX_JSON),
        "markdown": write_markdown(matrix, run_dir / MATRIX_MD),
        "html": write_html(matrix, run_dir / MATRIX_HTML),
        "junit": write_junit(matrix, run_dir / JUNIT_XML),
    }
    span = schedule_span(cells.schedules(matrix))  # one axis for every target, as on the page
    for target in matrix.targets:
        if target.schedule is None:
            continue
        name = _UNSAFE_NAME.sub("_", target.name)
        written[f"schedule {target.name} svg"] = write_text_atomically(
            run_dir / f"schedule-{name}.svg",
            schedule_timeline_svg(target.schedule, span=span, standalone=True) + "\n",
        )
        written[f"schedule {target.name} png"] = write_bytes_atomically(
            run_dir / f"schedule-{name}.png",
            schedule_png([target.schedule], title=f"retry schedule of {target.name}", span=span),
        )
    return written
