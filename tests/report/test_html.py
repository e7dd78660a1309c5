"""matrix.html without a browser: self-contained, every piece of wire text escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from harness.report import cell_anchor, render_html
from harness.results import Matrix
from tests.report.builders import NASTY


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.script_count += tag == "script"


def collect(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def test_the_page_loads_nothing_from_anywhere(matrix: Matrix) -> None:
    page = render_html(matrix)
    collector = collect(page)
    for tag, attrs in collector.tags:
        assert "src" not in attrs, f"<{tag}> loads {attrs['src']}"
        href = attrs.get("href")
        if href is not None and tag != "svg":
            assert href.startswith("#"), f"<{tag}> links outside the page: {href}"
        assert tag not in {"link", "iframe", "img", "object", "embed"}
    assert "url(" not in page
    assert "@import" not in page
    assert "Content-Security-Policy" in page
    assert collector.script_count == 1


def test_wire_text_is_escaped_everywhere(matrix: Matrix) -> None:
    page = render_html(matrix)
    assert NASTY not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page
    assert "550 5.1.1 &lt;user@libero.test&gt; recipient rejected" in page
    assert "<user@libero.test>" not in page
    assert "decision rule 0 &amp; done" in page
    # one script element: ours, at the end
    assert page.count("<script>") == 1


def test_every_case_has_its_evidence_and_a_cell_linking_to_it(matrix: Matrix) -> None:
    page = render_html(matrix)
    for case in matrix.cases:
        anchor = cell_anchor(case.scenario, case.target)
        assert f'<section class="evidence" id="{anchor}"' in page
        assert f'href="#{anchor}"' in page
    assert cell_anchor("code-class-mismatch-450-5.1.1", "exim") == (
        "cell-code-class-mismatch-450-5.1.1-exim"
    )
    assert cell_anchor("a b/c", "x") == "cell-a_b_c-x"


def test_one_retry_timeline_per_target_with_a_tick_per_attempt(matrix: Matrix) -> None:
    page = render_html(matrix)
    figures = re.findall(
        r'<figure class="target-timeline" data-target="(\w+)">(.*?)</figure>', page, re.S
    )
    assert [name for name, _ in figures] == ["postfix", "exim"]
    for name, svg in figures:
        attempts = sum(len(c.attempts) for c in matrix.cases if c.target == name)
        assert svg.count('class="tl-attempt') == attempts
        dsns = sum(1 for c in matrix.cases if c.target == name and c.dsn is not None)
        assert svg.count('class="tl-dsn"') == dsns
        ticks = re.findall(r'class="tl-tick"[^>]*>([^<]+)<', svg)
        # 0 to at least 5 days; here 6, since the outage-132h cases were observed for 5.5 days
        assert (ticks[0], ticks[-1]) == ("0", "6d")
        assert {"1m", "1h", "1d"} <= set(ticks)
