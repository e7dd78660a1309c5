"""matrix.md: versions, time scales, the grid in catalogue order, deviations; text escaped."""

from __future__ import annotations

from harness.report import render_html, render_markdown
from harness.report.cells import TIMES
from harness.results import Check, Connection, Level, Lookup, Matrix, Outcome
from tests.report.builders import SCENARIOS, replace_case


def test_header_names_the_run_exact_versions_and_time_scales(matrix: Matrix) -> None:
    text = render_markdown(matrix)
    assert text.startswith("# mailstorm compliance matrix — run `20240123T140000Z-matrix`")
    assert f"| **postfix** | 3.7.11 | 3.7.11-0+deb12u1 | {TIMES}60 |" in text
    assert f"| **exim** | 4.96 | 4.96-15+deb12u5 | {TIMES}60 |" in text
    [distortion] = [line for line in text.splitlines() if "distorted time parameters" in line]
    assert distortion.startswith("- **postfix**")
    assert f"smtp\\_connect\\_timeout: default 30s, effectively 1m ({TIMES}2)" in distortion


def test_grid_rows_follow_the_matrix_order_and_cells_are_compact(matrix: Matrix) -> None:
    lines = render_markdown(matrix).splitlines()
    header = lines.index("| scenario | postfix | exim |")
    rows = lines[header + 2 : header + 2 + len(SCENARIOS)]
    assert [row.split("|")[1].strip().strip("`") for row in rows] == list(SCENARIOS)
    assert rows[1] == "| `rcpt-550` | ✅ bounced 1 (5.1.1) | ⚠️ bounced 1 (5.0.0) |"
    assert rows[0] == "| `rcpt-450` | ⚠️ queued 1 | ⚠️ queued 1 |"
    assert rows[5] == "| `greylist` | ✅ delivered 1 | ❌ error |"
    assert "✅ delivered 1, bounced 1 (5.1.1), queued 1" in rows[2]


def test_deviations_list_clause_level_and_detail(matrix: Matrix) -> None:
    text = render_markdown(matrix)
    section = text.split("## Deviations (5)", 1)[1].split("## Harness errors", 1)[0]
    items = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(items) == 5
    assert items[2] == (
        f"- `rcpt-550` {TIMES} **exim** — RFC3464 **MUST**: "
        "Status should carry the remote &lt;5.1.1&gt;; the DSN says 5.0.0"
    )
    assert "RFC5321 4.5.4.1 **SHOULD**" in items[0]
    assert "## Harness errors (1)" in text
    assert "exim did not start" in text


def test_wire_text_cannot_inject_html_or_break_the_table(matrix: Matrix) -> None:
    text = render_markdown(matrix)
    assert "<exim>" not in text
    assert "&lt;exim&gt;" in text
    assert "<" not in text.replace("<!--", "")


def test_uncertainties_and_inconclusive_checks_are_shown(matrix: Matrix) -> None:
    inconclusive = Check(
        "RFC5321 4.5.4.1",
        Level.SHOULD,
        Outcome.INCONCLUSIVE,
        "shortest retry interval 22m ± 48m: 30 minutes is within it",
    )
    changed = replace_case(
        matrix, "rcpt-450", "postfix", checks=(inconclusive,), time_uncertainty=2880.0
    )
    text = render_markdown(changed)
    assert "## Inconclusive (1): the threshold is within the uncertainty" in text
    assert "22m ± 48m: 30 minutes is within it" in text
    assert f"postfix {TIMES}60: ± 48m" in text
    html = render_html(changed)
    assert "± 48m: the MTA" in html
    assert "<th>t (real ± 48m)</th>" in html


def test_mx_cells_show_their_connections_in_both_formats(matrix: Matrix) -> None:
    """A DNS/MX cell lists its connections in order in matrix.md (refused ones too) and its
    whole time line (lookups, connections, sessions) in matrix.html; other cells show none."""
    assert "## MX hosts and DNS" not in render_markdown(matrix)
    connections = (
        Connection(5.0, "mx1", "ipv6", "fd00:6d73::a", "refused", 10),
        Connection(5.1, "mx2", "ipv4", "172.30.0.11", "session", 20),
    )
    lookups = (Lookup(4.0, "x.test.", "MX", "NOERROR", ("x.test. 60 IN MX 10 mx1.x.test.",)),)
    changed = replace_case(matrix, "rcpt-450", "postfix", connections=connections, lookups=lookups)
    text = render_markdown(changed)
    assert (
        f"- `rcpt-450` {TIMES} **postfix**: mx1 ipv6 refused → mx2 ipv4 session (1 lookups)" in text
    )
    page = render_html(changed)
    assert "MX hosts and DNS (1 lookups, 2 connections)" in page
    order = [page.index(s) for s in ("MX x.test.", "mx1 ipv6 (fd00:6d73::a)", "mx2 ipv4 (172")]
    assert order == sorted(order)
