"""The retry schedules of matrix.html in headless Chromium: each target's timeline is laid out,
with a visible tick per attempt inside its axis, and its warning and bounce labelled.

Only file:// URLs are opened (see chromium.py). Set MAILSTORM_SCREENSHOT_DIR to keep the
screenshot for a look.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.report import write_html
from tests.report import chromium
from tests.report.builders import build_matrix_with_schedules
from tests.report.images import png_size
from tests.report.test_html_browser import keep

pytestmark = pytest.mark.browser

#: Per schedule figure: what the browser laid out (boxes in CSS pixels).
MEASURE = """
(() => Array.from(document.querySelectorAll("#schedules figure.target-schedule")).map(f => {
  const svg = f.querySelector("svg.schedule-timeline").getBoundingClientRect();
  const ticks = Array.from(f.querySelectorAll("line.sc-attempt"))
    .map(t => t.getBoundingClientRect());
  const label = s => { const e = f.querySelector(s + " text"); return e ? e.textContent : null; };
  return {
    target: f.dataset.target,
    svg: [svg.left, svg.right, svg.width, svg.height],
    ticks: ticks.length,
    visible: ticks.filter(r => r.height >= 10 && r.left >= svg.left && r.right <= svg.right)
      .length,
    days: Array.from(f.querySelectorAll("text.sc-day-label")).map(e => e.textContent),
    warning: label("g.sc-warning"),
    bounce: label("g.sc-giveup"),
  };
}))()
"""


def test_each_target_timeline_renders_a_tick_per_attempt(tmp_path: Path) -> None:
    matrix = build_matrix_with_schedules()
    page = write_html(matrix, tmp_path / "matrix.html")
    with chromium.DevTools(tmp_path / "profile", width=1500, height=1000) as browser:
        browser.open(chromium.file_url(page))
        found: list[dict[str, Any]] = browser.evaluate(MEASURE)
        browser.evaluate("document.getElementById('schedules').scrollIntoView()")
        shot = browser.screenshot()
    expected = {t.name: t.schedule for t in matrix.targets if t.schedule is not None}
    assert [f["target"] for f in found] == list(expected), json.dumps(found)
    for figure in found:
        schedule = expected[figure["target"]]
        attempts = len(schedule.attempts)
        assert figure["ticks"] == attempts
        assert figure["visible"] == attempts, figure  # drawn, inside the axis
        width, height = figure["svg"][2:]
        assert width > 500
        assert height > 50
        assert figure["days"] == ["0d", "1d", "2d", "3d", "4d", "5d", "6d"]
        assert figure["bounce"].startswith("bounce ")
    assert found[0]["warning"] is None
    assert found[1]["warning"] == "warning 23h56m"
    assert png_size(shot)[0] == 1500
    path = tmp_path / "matrix-schedules.png"
    path.write_bytes(shot)
    keep(path)
