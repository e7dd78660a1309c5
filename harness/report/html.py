"""`matrix.html`: one self-contained page to explore a run, evidence included.

One file, no external resource (the CSS, the script and the plots are inline, and a
Content-Security-Policy forbids loading anything), so it opens the same from a CI artifact, a
mail attachment or `reports/latest/` without network. A colour-coded grid; a click on a cell
shows its evidence (attempts with real times, the DSN, the checks, the journal excerpt) beside
the grid; each cell is linkable as `matrix.html#cell-<scenario>-<target>`; below, a retry
timeline per target (every case's attempts) and, when measured, each target's retry schedule
(one message's attempts, warning and give-up over days). Every piece of text from the run is
escaped: replies and journal lines come from the wire and hold `<`.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

from harness.durations import format_duration
from harness.files import write_text_atomically
from harness.report import cells, releases
from harness.report._html_assets import CSS, JS
from harness.report._text import printable
from harness.report.cells import TIMES
from harness.report.mx_timeline import mx_events
from harness.report.schedule_svg import schedule_span, schedule_timeline_svg
from harness.report.timeline import STRIP, reply_class, span_for, timeline_legend, timeline_svg
from harness.results import (
    CaseResult,
    Check,
    DsnEvidence,
    Matrix,
    Schedule,
    ScheduleSpread,
    TargetInfo,
)

MATRIX_HTML = "matrix.html"
#: Nothing may be fetched: only the inline style and script run, images only from data: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
)
#: Verdict symbols drawn from text fonts, not emoji: the page must read the same in a browser
#: without an emoji font (a CI screenshot, a server's headless browser); colour does the rest.
SYMBOLS = {
    "pass": "✓",
    "deviation": "⚠",
    "inconclusive": "?",
    "error": "✗",
    "info": "\N{INFORMATION SOURCE}",
    "n/a": "\N{EN DASH}",
}
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]")


def _verdict_class(verdict: str) -> str:
    """The CSS class of a verdict: `v-pass`, `v-na` for `n/a` (a class name has no `/`)."""
    return "v-" + verdict.replace("/", "")


def cell_anchor(scenario: str, target: str) -> str:
    """The element id (and URL fragment) of a cell's evidence: `cell-<scenario>-<target>`.

    Characters other than letters, digits, `.`, `_` and `-` become `_`, so the fragment needs
    no percent-encoding; scenario ids of the catalogue are kept as they are.
    """
    return f"cell-{_UNSAFE_ID.sub('_', scenario)}-{_UNSAFE_ID.sub('_', target)}"


def render_html(matrix: Matrix) -> str:
    """The text of `matrix.html`."""
    anchors = _anchors(matrix)
    title = f"mailstorm matrix — {matrix.run_id}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *_header(matrix),
            *_targets(matrix),
            '<div class="layout">',
            '<div class="main">',
            *_grid(matrix, anchors),
            *_deviations(matrix, anchors),
            *_releases(matrix, anchors),
            *_timelines(matrix, anchors),
            *_schedules(matrix),
            "</div>",
            *_panel(matrix, anchors),
            "</div>",
            f"<script>{JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def write_html(matrix: Matrix, path: str | Path) -> Path:
    """Write `matrix.html` to `path`."""
    return write_text_atomically(path, render_html(matrix))


def _e(text: object) -> str:
    return escape(printable(str(text)), quote=True)


def _anchors(matrix: Matrix) -> dict[tuple[str, str], str]:
    """Each case's anchor; a second case whose id collides after sanitising gets `-2`, `-3`."""
    anchors: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    for case in matrix.cases:
        anchor = base = cell_anchor(case.scenario, case.target)
        counter = 1
        while anchor in used:
            counter += 1
            anchor = f"{base}-{counter}"
        used.add(anchor)
        anchors[(case.scenario, case.target)] = anchor
    return anchors


def _header(matrix: Matrix) -> list[str]:
    counts = cells.verdict_counts(matrix)
    summary = " · ".join(
        f'<span class="badge {_verdict_class(verdict)}">{SYMBOLS[verdict]} {count} {verdict}</span>'
        for verdict, count in counts.items()
        if count
    )
    size = f"{len(cells.scenarios(matrix))} scenarios {TIMES} {len(cells.targets(matrix))} targets"
    return [
        "<header>",
        "<h1>mailstorm compliance matrix</h1>",
        f'<p class="meta">run <code>{_e(matrix.run_id)}</code> · created {_e(matrix.created)}'
        f" · schema {matrix.schema_version} · {size} · all times are real MTA time since "
        "injection</p>",
        f'<p class="summary">{summary or "no cases"}</p>',
        "</header>",
    ]


def _targets(matrix: Matrix) -> list[str]:
    rows = [
        '<section id="targets"><h2>Targets</h2><table><thead><tr><th>target</th><th>version</th>'
        "<th>package</th><th>time scale</th><th>distorted time parameters</th></tr></thead><tbody>"
    ]
    for target in matrix.targets:
        rows.append(
            f"<tr><th>{_e(target.name)}</th><td>{_e(target.version)}</td>"
            f"<td>{_e(target.package_version) or '—'}</td>"
            f"<td>{_e(cells.time_scales_text(target))}</td><td>{_distortions(target)}</td></tr>"
        )
    rows.append("</tbody></table></section>")
    return rows


def _distortions(target: TargetInfo) -> str:
    phrases = cells.distorted_parameters(target)
    if not phrases:
        return '<span class="muted">none</span>'
    return "<br>".join(_e(phrase) for phrase in phrases)


def _grid(matrix: Matrix, anchors: dict[tuple[str, str], str]) -> list[str]:
    names = cells.targets(matrix)
    marked = releases.differing_cells(matrix)
    rows = [
        '<section id="matrix"><h2>Matrix</h2>',
        '<div class="scroll-x"><table class="grid" id="grid"><thead><tr><th>scenario</th>'
        + "".join(f"<th>{_e(name)}</th>" for name in names)
        + "</tr></thead><tbody>",
    ]
    for scenario in cells.scenarios(matrix):
        row = [f'<tr><th class="scenario"><code>{_e(scenario)}</code></th>']
        for name in names:
            case = matrix.case(scenario, name)
            if case is None:
                row.append('<td class="cell v-missing" title="not run">—</td>')
                continue
            anchor = anchors[(scenario, name)]
            differs = (scenario, name) in marked
            mark = (
                f' <span class="differs" title="the releases of {_e(releases.release_family(name))}'
                f' disagree here">{releases.DIFFERS_MARK}</span>'
                if differs
                else ""
            )
            row.append(
                f'<td class="cell {_verdict_class(case.verdict)}" data-cell="{_e(anchor)}">'
                f'<a href="#{_e(anchor)}" title="{_e(scenario)} {TIMES} {_e(name)}: '
                f'{_e(case.verdict)}">{_e(cells.cell_text(case, SYMBOLS))}{mark}</a></td>'
            )
        rows.append("".join(row) + "</tr>")
    rows.append("</tbody></table></div>")
    rows.append(
        '<p class="legend">'
        + "".join(
            f'<span class="{_verdict_class(verdict)}">{symbol} {verdict}</span>'
            for verdict, symbol in SYMBOLS.items()
        )
        + " — a cell shows its fates; click it for the evidence.</p></section>"
    )
    return rows


def _panel(matrix: Matrix, anchors: dict[tuple[str, str], str]) -> list[str]:
    parts = [
        '<aside id="panel" aria-live="polite">',
        '<p id="panel-hint">Click a cell of the matrix to see its evidence.</p>',
    ]
    for case in matrix.cases:
        parts.append(_evidence(case, anchors[(case.scenario, case.target)]))
    parts.append("</aside>")
    return parts


def _evidence(case: CaseResult, anchor: str) -> str:
    verdict = case.verdict
    parts = [
        f'<section class="evidence" id="{_e(anchor)}" data-scenario="{_e(case.scenario)}" '
        f'data-target="{_e(case.target)}">',
        f"<header><h3><code>{_e(case.scenario)}</code> {TIMES} {_e(case.target)}</h3>"
        f'<span class="badge {_verdict_class(verdict)}">{SYMBOLS.get(verdict, "")} {verdict}'
        '</span><a class="close" href="#" title="close (Esc)">✕</a></header>',
        f'<p class="description">{_e(case.description)}</p>',
        '<dl class="facts">',
        f"<dt>fates</dt><dd>{_e(cells.fates_text(case))}</dd>",
        f"<dt>time scale</dt><dd>{TIMES}{case.time_scale:g}</dd>",
        f"<dt>retry-clock times</dt><dd>{_e(cells.uncertainty_text(case))}</dd>",
        f"<dt>observed for</dt><dd>{_e(format_duration(case.observed_for))} real "
        f"({case.observed_for:g} s)</dd>",
        "</dl>",
    ]
    if case.not_applicable:
        parts.append(f'<p class="not-applicable">not applicable: {_e(case.not_applicable)}</p>')
    if case.error:
        parts.append(f'<p class="harness-error">harness error: {_e(case.error)}</p>')
    parts.extend(_recipients(case))
    parts.extend(_attempts(case))
    parts.extend(_mx_evidence(case))
    parts.extend(_dsn(case.dsn))
    parts.extend(_checks(case.checks))
    parts.append("<h4>Journal excerpt</h4>")
    if case.journal_excerpt:
        parts.append(f"<pre>{_e(chr(10).join(case.journal_excerpt))}</pre>")
    else:
        parts.append('<p class="none">no journal lines</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _recipients(case: CaseResult) -> list[str]:
    if not case.recipients:
        return []
    rows = [
        "<h4>Recipients</h4><table><thead><tr><th>recipient</th><th>sent</th><th>fate</th>"
        "<th>deliveries</th><th>settled</th><th>next attempt</th></tr></thead><tbody>"
    ]
    for r in case.recipients:
        rows.append(
            f"<tr><td>{_e(r.recipient)}</td><td>{_e(cells.real_time(r.injected_t))}</td>"
            f"<td>{_e(r.fate.value)}</td><td>{r.deliveries}</td>"
            f"<td>{_e(cells.real_time(r.settled_t))}</td>"
            f"<td>{_e(cells.real_time(r.next_attempt_t))}</td></tr>"
        )
    rows.append("</tbody></table>")
    ids = dict.fromkeys(r.message_id for r in case.recipients)
    rows.append(f'<p class="muted">message {", ".join(_e(i) for i in ids)}</p>')
    return rows


def _attempts(case: CaseResult) -> list[str]:
    parts = [f"<h4>Attempts ({len(case.attempts)})</h4>"]
    if not case.attempts:
        return [*parts, '<p class="none">the receiver saw no session</p>']
    parts.append(
        timeline_svg(
            [case],
            title=f"attempts of {case.scenario} on {case.target}",
            span=span_for([case]),
            layout=STRIP,
        )
    )
    # The listener matters only when there are several (primary and secondary MX).
    listeners = len({attempt.listener for attempt in case.attempts}) > 1
    parts.append(
        '<table class="attempts"><thead><tr><th>#</th>'
        f"<th>t (real{_e(cells.plus_minus(case))})</th><th>after previous</th>"
        "<th>stage</th><th>reply</th>"
        + ("<th>listener</th>" if listeners else "")
        + "</tr></thead><tbody>"
    )
    previous: float | None = None
    for number, attempt in enumerate(case.attempts, start=1):
        gap = "—" if previous is None else cells.real_time(attempt.t - previous)
        previous = attempt.t
        reply = (
            '<span class="r-none">no reply</span>'
            if attempt.reply is None
            else f'<span class="r-{reply_class(attempt.reply)}">{_e(attempt.reply)}</span>'
        )
        parts.append(
            f'<tr><td>{number}</td><td title="{attempt.t:g} s">'
            f"{_e(cells.real_time(attempt.t))}</td>"
            f"<td>{_e(gap)}</td><td>{_e(attempt.stage)}</td><td>{reply}</td>"
            + (f"<td>{_e(attempt.listener) or '—'}</td>" if listeners else "")
            + "</tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _mx_evidence(case: CaseResult) -> list[str]:
    """A DNS/MX cell's time line: lookups, connections (refused ones too) and sessions."""
    events = mx_events(case) if case.connections or case.lookups else []
    if not events:
        return []
    parts = [
        f"<h4>MX hosts and DNS ({len(case.lookups)} lookups, {len(case.connections)} "
        "connections)</h4>",
        f'<table class="mx"><thead><tr><th>t (real{_e(cells.plus_minus(case))})</th>'
        "<th>event</th><th>what</th><th>result</th></tr></thead><tbody>",
    ]
    for event in events:
        parts.append(
            f'<tr class="mx-{event.kind}"><td title="{event.t:g} s">'
            f"{_e(cells.real_time(event.t))}</td><td>{_e(event.kind)}</td>"
            f"<td>{_e(event.what)}</td><td>{_e(event.result)}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _dsn(dsn: DsnEvidence | None) -> list[str]:
    if dsn is None:
        return ["<h4>DSN</h4>", '<p class="none">no DSN came back</p>']
    fields: list[tuple[str, Any]] = [
        ("received", f"{cells.real_time(dsn.t)} ({dsn.t:g} s)"),
        ("Action", dsn.action),
        ("Status", dsn.status),
        ("Final-Recipient", dsn.final_recipient),
        ("Diagnostic-Code", dsn.diagnostic_code),
        ("remote reply code", dsn.remote_reply_code),
        ("Will-Retry-Until", dsn.will_retry_until),
        ("well formed", "yes" if dsn.well_formed else "no"),
    ]
    rows = [
        f"<dt>{_e(name)}</dt><dd>{'—' if value is None else _e(value)}</dd>"
        for name, value in fields
    ]
    problems = "".join(f"<li>{_e(problem)}</li>" for problem in dsn.problems)
    return [
        "<h4>DSN</h4>",
        '<dl class="facts">' + "".join(rows) + "</dl>",
        *([f'<ul class="dsn-problems">{problems}</ul>'] if problems else []),
    ]


def _checks(checks: tuple[Check, ...]) -> list[str]:
    if not checks:
        return ["<h4>Checks</h4>", '<p class="none">no checks</p>']
    rows = [
        "<h4>Checks</h4><table><thead><tr><th>clause</th><th>level</th><th>outcome</th>"
        "<th>detail</th><th>measured</th></tr></thead><tbody>"
    ]
    for check in checks:
        outcome_class = "o-" + check.outcome.value.replace(" ", "-")
        measured = "<br>".join(
            f"{_e(key)} = {_e(json.dumps(value, ensure_ascii=False, default=str))}"
            for key, value in check.measured.items()
        )
        rows.append(
            f'<tr><td class="nowrap">{_e(check.clause)}</td><td>{_e(check.level.value)}</td>'
            f'<td class="{outcome_class}">{_e(check.outcome.value)}</td>'
            f'<td>{_e(check.detail)}</td><td class="mono">{measured or "—"}</td></tr>'
        )
    rows.append("</tbody></table>")
    return rows


def _deviations(matrix: Matrix, anchors: dict[tuple[str, str], str]) -> list[str]:
    found = cells.deviations(matrix)
    failed = cells.errors(matrix)
    parts = ['<section id="deviations">', f"<h2>Deviations ({len(found)})</h2>"]
    if found:
        parts.append(
            "<table><thead><tr><th>scenario</th><th>target</th><th>clause</th><th>level</th>"
            "<th>detail</th></tr></thead><tbody>"
        )
        for deviation in found:
            case, check = deviation.case, deviation.check
            anchor = anchors[(case.scenario, case.target)]
            parts.append(
                f'<tr><td><a href="#{_e(anchor)}"><code>{_e(case.scenario)}</code></a></td>'
                f'<td>{_e(case.target)}</td><td class="nowrap">{_e(check.clause)}</td>'
                f"<td>{_e(check.level.value)}</td><td>{_e(check.detail)}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts.append(
            '<p class="muted">A MUST deviation fails the JUnit test case; a SHOULD deviation is'
            " a result, recorded but not failed.</p>"
        )
    else:
        parts.append('<p class="none">none: every judged check passed</p>')
    if failed:
        parts.append(f"<h2>Harness errors ({len(failed)})</h2><ul>")
        for case in failed:
            anchor = anchors[(case.scenario, case.target)]
            parts.append(
                f'<li><a href="#{_e(anchor)}"><code>{_e(case.scenario)}</code></a> {TIMES} '
                f"{_e(case.target)}: {_e(case.error or '')}</li>"
            )
        parts.append("</ul>")
    parts.append("</section>")
    return parts


def _releases(matrix: Matrix, anchors: dict[tuple[str, str], str]) -> list[str]:
    if not releases.release_columns(matrix):
        return []
    found = releases.release_differences(matrix)
    parts = ['<section id="releases">', f"<h2>Between releases ({len(found)})</h2>"]
    if not found:
        parts.append('<p class="none">every release of each MTA gave the same cells</p>')
        return [*parts, "</section>"]
    versions = {target.name: target.version for target in matrix.targets}
    parts.append(
        "<table><thead><tr><th>scenario</th><th>MTA</th><th>cells</th><th>checks that differ</th>"
        "</tr></thead><tbody>"
    )
    for difference in found:
        columns = "<br>".join(
            f'<a href="#{_e(anchors[(case.scenario, case.target)])}">{_e(case.target)}</a> '
            f"{_e(versions.get(case.target, ''))}: {_e(cells.cell_text(case, SYMBOLS))}"
            for case in difference.cases
        )
        parts.append(
            f"<tr><td><code>{_e(difference.scenario)}</code></td><td>{_e(difference.family)}</td>"
            f"<td>{columns}</td><td>{_e(', '.join(difference.differing_checks))}</td></tr>"
        )
    parts.append("</tbody></table></section>")
    return parts


def _timelines(matrix: Matrix, anchors: dict[tuple[str, str], str]) -> list[str]:
    span = span_for(matrix.cases)  # one axis for every target, so the plots compare
    parts = [
        '<section id="timelines"><h2>Retry timelines</h2>',
        timeline_legend(),
    ]
    for name in cells.targets(matrix):
        cases = [case for case in matrix.cases if case.target == name]
        order = {scenario: index for index, scenario in enumerate(cells.scenarios(matrix))}
        cases.sort(key=lambda case: order[case.scenario])
        parts.append(f'<figure class="target-timeline" data-target="{_e(name)}">')
        parts.append(f"<figcaption><h3>{_e(name)}</h3></figcaption>")
        parts.append(
            timeline_svg(
                cases,
                title=f"retry timeline of {name}",
                link=lambda case: "#" + anchors[(case.scenario, case.target)],
                span=span,
            )
        )
        parts.append("</figure>")
    parts.append("</section>")
    return parts


def _schedules(matrix: Matrix) -> list[str]:
    schedules = cells.schedules(matrix)
    if not schedules:
        return []
    span = schedule_span(schedules)  # one axis for every target, so the schedules compare
    parts = [
        '<section id="schedules"><h2>Retry schedules</h2>',
        '<p class="muted">One undeliverable message per target, in real time since injection '
        "(variant 4xx: the receiver answered 451 to every RCPT); a linear axis of days. The "
        "method says how time was compressed.</p>",
    ]
    for target in matrix.targets:
        if target.schedule is None:
            parts.append(f'<p class="none">{_e(target.name)}: no retry schedule measured</p>')
        else:
            parts.extend(_schedule(target.name, target.schedule, span, target.schedule_spread))
    parts.append("</section>")
    return parts


def _schedule(
    name: str, schedule: Schedule, span: float, spread: ScheduleSpread | None
) -> list[str]:
    d = cells.duration

    def t(seconds: float | None) -> str:
        return cells.schedule_time(schedule, seconds)

    facts = [
        ("first retry", t(schedule.first_retry)),
        ("median interval", t(schedule.median_interval)),
        ("longest interval", t(schedule.longest_interval)),
        ("warning", t(schedule.warning)),
        ("give-up", t(schedule.give_up)),
        ("attempts", str(len(schedule.attempts))),
    ]
    rows = [("run 1" if spread else "", [value for _, value in facts])]
    if spread is not None:
        v = cells.spread_values(spread)
        rows.append(
            (
                f"min to max of {spread.runs} runs",
                [v[key] for key in cells.SCHEDULE_COLUMNS],
            )
        )
    notes = [cells.schedule_uncertainty_text(schedule)]
    if spread is not None:
        notes.append(cells.spread_text(spread))
    window = cells.first_retry_window_text(schedule, spread)
    if window:
        notes.append(window)
    distortions = cells.schedule_distortions(schedule)
    return [
        f'<figure class="target-schedule" data-target="{_e(name)}">',
        f"<figcaption><h3>{_e(name)} {_e(schedule.version)}</h3>"
        f'<span class="muted">{_e(schedule.variant)} · {_e(cells.method_text(schedule))} · '
        f"observed for {_e(d(schedule.observed_for))}</span></figcaption>",
        schedule_timeline_svg(schedule, span=span),
        '<table class="schedule-facts"><thead><tr><th></th>'
        + "".join(f"<th>{_e(label)}</th>" for label, _ in facts)
        + "</tr></thead><tbody>"
        + "".join(
            f"<tr><th>{_e(label)}</th>" + "".join(f"<td>{_e(v)}</td>" for v in values) + "</tr>"
            for label, values in rows
        )
        + "</tbody></table>",
        *(f'<p class="muted">{_e(note)}</p>' for note in notes),
        *(
            [f'<p class="muted">distorted time parameters: {_e("; ".join(distortions))}</p>']
            if distortions
            else []
        ),
        *_checks(schedule.checks),
        "</figure>",
    ]
