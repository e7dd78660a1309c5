"""matrix.html in headless Chromium: it renders, a cell opens its evidence, and it looks right.

Only file:// URLs are opened (see chromium.py for the flags that keep Chromium off the network).
Set MAILSTORM_SCREENSHOT_DIR to keep the screenshots for a look.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from harness.report import cell_anchor, write_html
from harness.results import Matrix
from tests.report import chromium
from tests.report.images import png_size

pytestmark = pytest.mark.browser


@pytest.fixture
def page(matrix: Matrix, tmp_path: Path) -> Path:
    return write_html(matrix, tmp_path / "matrix.html")


def keep(screenshot: Path) -> None:
    target = os.environ.get("MAILSTORM_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(target) / screenshot.name)


def evidence_classes(dom: str, anchor: str) -> str:
    match = re.search(rf'<section class="([^"]*)" id="{re.escape(anchor)}"', dom)
    assert match is not None, f"no evidence section {anchor} in the DOM"
    return match.group(1)


def test_the_page_renders_its_grid_and_runs_its_script(page: Path, tmp_path: Path) -> None:
    dom = chromium.run(chromium.file_url(page), tmp_path / "profile", "--dump-dom").stdout
    assert 'data-ready="true"' in dom  # the script ran to its end
    assert '<table class="grid" id="grid">' in dom
    assert dom.count('<td class="cell v-') == 16
    assert "✓ bounced 1 (5.1.1)" in dom
    assert "open" not in evidence_classes(dom, cell_anchor("rcpt-550", "exim")).split()


def test_a_cell_fragment_opens_that_cells_evidence(page: Path, tmp_path: Path) -> None:
    anchor = cell_anchor("rcpt-550", "exim")
    url = chromium.file_url(page, anchor)
    dom = chromium.run(url, tmp_path / "profile", "--dump-dom").stdout
    assert evidence_classes(dom, anchor).split() == ["evidence", "open"]
    assert re.search(rf'<td class="cell v-deviation selected" data-cell="{anchor}">', dom)
    others = re.findall(r'<section class="evidence open"', dom)
    assert len(others) == 1
    assert '<p id="panel-hint" hidden="">' in dom


def test_a_click_on_a_cell_shows_its_evidence(page: Path, tmp_path: Path) -> None:
    anchor = cell_anchor("code-class-mismatch-450-5.1.1", "exim")
    visible = f"getComputedStyle(document.getElementById('{anchor}')).display"
    with chromium.DevTools(tmp_path / "profile") as browser:
        browser.open(chromium.file_url(page))
        assert browser.evaluate(visible) == "none"
        browser.click(f'td[data-cell="{anchor}"] a')
        assert browser.evaluate("location.hash") == f"#{anchor}"
        assert browser.evaluate(visible) == "block"
        text = browser.evaluate(f"document.getElementById('{anchor}').innerText")
        assert "a 4yz reply must be temporary" in text  # the check's detail
        assert "450 5.1.1 <user@libero.test>" in text  # the reply, shown as text
        assert "Final-Recipient" in text  # the DSN fields
        # Escape closes it again
        browser.call("Input.dispatchKeyEvent", type="keyDown", key="Escape", code="Escape")
        assert browser.evaluate(visible) == "none"
        # no request left the page: every resource it used is the page itself
        urls = browser.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert urls == []


def test_screenshot_of_an_open_cell(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "matrix-rcpt-550-exim.png"
    url = chromium.file_url(page, cell_anchor("rcpt-550", "exim"))
    chromium.run(url, tmp_path / "profile", "--window-size=1500,1400", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert png_size(data) == (1500, 1400)
    assert len(data) > 20_000  # a rendered page, not a blank one
    keep(shot)


def test_screenshot_through_devtools_after_a_click(page: Path, tmp_path: Path) -> None:
    with chromium.DevTools(tmp_path / "profile", width=1500, height=1400) as browser:
        browser.open(chromium.file_url(page))
        browser.click(f'td[data-cell="{cell_anchor("outage-132h-451", "postfix")}"] a')
        data = browser.screenshot()
    assert png_size(data)[0] > 1000
    shot = tmp_path / "matrix-click-outage-132h-451-postfix.png"
    shot.write_bytes(data)
    keep(shot)
