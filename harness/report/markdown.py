"""`matrix.md`: the matrix as a CI job summary (GitHub renders it; it reads fine as plain text).

Short on purpose: versions and time scales first (a verdict means nothing without them), the
grid, then one line per deviation and per harness error. The evidence lives in matrix.html.
GitHub renders HTML inside Markdown, so text from the wire (`<user@example>` in a reply) is
escaped, not only the table's `|`.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.files import write_text_atomically
from harness.report import cells, releases
from harness.report._text import printable
from harness.report.cells import TIMES
from harness.report.mx_timeline import connection_summary, mx_cases
from harness.results import Matrix, Schedule, ScheduleSpread

MATRIX_MD = "matrix.md"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def render_markdown(matrix: Matrix) -> str:
    """The Markdown text of `matrix.md`."""
    lines = [
        f"# mailstorm compliance matrix — run {_code(matrix.run_id)}",
        "",
        _summary_line(matrix),
        "",
        *_targets_section(matrix),
        "",
        *_grid(matrix),
        "",
        *_deviations_section(matrix),
        *_releases_section(matrix),
        *_inconclusive_section(matrix),
        *_errors_section(matrix),
        *_mx_section(matrix),
        *_schedules_section(matrix),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(matrix: Matrix, path: str | Path) -> Path:
    """Write `matrix.md` to `path`."""
    return write_text_atomically(path, render_markdown(matrix))


def escape(text: str) -> str:
    """`text` safe in a Markdown table cell: HTML and Markdown syntax shown literally."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _code(text: str) -> str:
    """An inline code span that survives backticks and pipes in `text`."""
    text = printable(text).replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _summary_line(matrix: Matrix) -> str:
    counts = cells.verdict_counts(matrix)
    verdicts = ", ".join(
        f"{cells.VERDICT_SYMBOLS[verdict]} {count} {verdict}"
        for verdict, count in counts.items()
        if count
    )
    size = f"{len(cells.scenarios(matrix))} scenarios {TIMES} {len(cells.targets(matrix))} targets"
    return (
        f"{size}, created {escape(matrix.created)}, schema {matrix.schema_version}: "
        f"{verdicts or 'no cases'}. Times are real MTA time since injection."
    )


def _targets_section(matrix: Matrix) -> list[str]:
    lines = ["| target | version | package | time scale |", "|---|---|---|---|"]
    for target in matrix.targets:
        lines.append(
            f"| **{escape(target.name)}** | {escape(target.version)} "
            f"| {escape(target.package_version) or '—'} | {cells.time_scales_text(target)} |"
        )
    distortions = [
        f"- **{escape(target.name)}** distorted time parameters: "
        + "; ".join(escape(phrase) for phrase in phrases)
        for target in matrix.targets
        if (phrases := cells.distorted_parameters(target))
    ]
    spread = cells.uncertainties(matrix)
    plus_minus = (
        [
            "",
            "Times the senders' retry clocks decide (attempts, intervals, settle and DSN times) "
            "carry these uncertainties: " + "; ".join(escape(phrase) for phrase in spread) + ".",
        ]
        if spread
        else []
    )
    return [*lines, *(["", *distortions] if distortions else []), *plus_minus]


def _grid(matrix: Matrix) -> list[str]:
    names = cells.targets(matrix)
    marked = releases.differing_cells(matrix)
    lines = [
        "| scenario | " + " | ".join(escape(name) for name in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for scenario in cells.scenarios(matrix):
        row = [
            escape(cells.cell_text(matrix.case(scenario, name)))
            + (f" {releases.DIFFERS_MARK}" if (scenario, name) in marked else "")
            for name in names
        ]
        lines.append(f"| {_code(scenario)} | " + " | ".join(row) + " |")
    if marked:
        lines += [
            "",
            f"{releases.DIFFERS_MARK}: the releases of this MTA disagree on this scenario "
            "(see Between releases).",
        ]
    return lines


def _releases_section(matrix: Matrix) -> list[str]:
    found = releases.release_differences(matrix)
    families = releases.release_columns(matrix)
    if not families:
        return []
    if not found:
        return ["## Between releases", "", "Every release of each MTA gave the same cells.", ""]
    versions = {target.name: target.version for target in matrix.targets}
    lines = [f"## Between releases ({len(found)})", ""]
    for difference in found:
        columns = "; ".join(
            f"**{escape(case.target)}** {escape(versions.get(case.target, ''))}: "
            f"{escape(cells.cell_text(case))}"
            for case in difference.cases
        )
        checks = difference.differing_checks
        clauses = f" Checks that differ: {escape(', '.join(checks))}." if checks else ""
        scenario = _code(difference.scenario)
        lines.append(f"- {scenario} ({escape(difference.family)}): {columns}.{clauses}")
    return [*lines, ""]


def _deviations_section(matrix: Matrix) -> list[str]:
    found = cells.deviations(matrix)
    if not found:
        return ["## Deviations", "", "None: every judged check passed.", ""]
    return [f"## Deviations ({len(found)})", "", *_check_lines(found, bold_level=True), ""]


def _inconclusive_section(matrix: Matrix) -> list[str]:
    found = cells.inconclusive(matrix)
    if not found:
        return []
    title = f"## Inconclusive ({len(found)}): the threshold is within the uncertainty"
    return [title, "", *_check_lines(found, bold_level=False), ""]


def _check_lines(found: list[cells.Deviation], *, bold_level: bool) -> list[str]:
    """One line per check: where, clause, level and what was measured."""
    lines = []
    for item in found:
        check, case = item.check, item.case
        level = escape(check.level.value)
        lines.append(
            f"- {_code(case.scenario)} {TIMES} **{escape(case.target)}** — "
            f"{escape(check.clause)} {f'**{level}**' if bold_level else level}: "
            f"{escape(check.detail)}"
        )
    return lines


def _errors_section(matrix: Matrix) -> list[str]:
    failed = cells.errors(matrix)
    if not failed:
        return []
    lines = [f"## Harness errors ({len(failed)})", ""]
    for case in failed:
        where = f"{_code(case.scenario)} {TIMES} **{escape(case.target)}**"
        lines.append(f"- {where}: {escape(case.error or '')}")
    return [*lines, ""]


def _mx_section(matrix: Matrix) -> list[str]:
    """Per DNS/MX cell: the connections in order (refused ones too) and the lookups' count;
    matrix.html has each cell's whole time line."""
    found = mx_cases(matrix)
    if not found:
        return []
    lines = [
        "## MX hosts and DNS",
        "",
        "Each connection the sender opened to the scenario's MX hosts, in order, with what came "
        "back (read off the wire: refused ones too); the lookups and sessions beside them are "
        "in matrix.html.",
        "",
    ]
    for case in found:
        lookups = f"{len(case.lookups)} lookups"
        lines.append(
            f"- {_code(case.scenario)} {TIMES} **{escape(case.target)}**: "
            f"{escape(connection_summary(case))} ({lookups})"
        )
    return [*lines, ""]


def _schedules_section(matrix: Matrix) -> list[str]:
    if not cells.schedules(matrix):
        return []
    lines = [
        "## Retry schedules",
        "",
        "One undeliverable message per target, in real time since injection (variant `4xx`: "
        "the receiver answered `451` to every RCPT). The method says how time was compressed.",
        "",
    ]
    for target in matrix.targets:
        if target.schedule is not None:
            lines += _schedule(target.name, target.schedule, target.schedule_spread)
        else:
            lines += [f"### {escape(target.name)}", "", "Not measured.", ""]
    return lines


def _schedule(name: str, schedule: Schedule, spread: ScheduleSpread | None) -> list[str]:
    d = cells.duration

    def t(seconds: float | None) -> str:
        return cells.schedule_time(schedule, seconds)

    run = "run 1" if spread is not None else ""
    lines = [
        f"### {escape(name)} {escape(schedule.version)}",
        "",
        "| | first retry | median interval | longest interval | warning | give-up | attempts "
        "| variant | method |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {run} | {t(schedule.first_retry)} | {t(schedule.median_interval)} "
        f"| {t(schedule.longest_interval)} | {t(schedule.warning)} | {t(schedule.give_up)} "
        f"| {len(schedule.attempts)} | {escape(schedule.variant)} "
        f"| {escape(cells.method_text(schedule))} |",
    ]
    if spread is not None:
        v = {name: escape(text) for name, text in cells.spread_values(spread).items()}
        lines.append(
            f"| min to max of {spread.runs} runs | {v['first_retry']} | {v['median_interval']} "
            f"| {v['longest_interval']} | {v['warning']} | {v['give_up']} | {v['attempts']} "
            f"| {escape(spread.variant)} | {escape(cells.method_text(schedule))} |"
        )
    lines += ["", f"Times: {escape(cells.schedule_uncertainty_text(schedule))}.", ""]
    if spread is not None:
        lines += [f"Runs: {escape(cells.spread_text(spread))}.", ""]
    window = cells.first_retry_window_text(schedule, spread)
    if window:
        lines += [f"First retry: {escape(window)}.", ""]
    if schedule.give_up is None:
        lines += [f"No give-up in the {d(schedule.observed_for)} observed.", ""]
    distortions = cells.schedule_distortions(schedule)
    if distortions:
        lines += [
            "Distorted time parameters: " + "; ".join(escape(p) for p in distortions) + ".",
            "",
        ]
    if schedule.checks:
        lines += ["| clause | level | outcome | detail |", "|---|---|---|---|"]
        lines += [
            f"| {escape(c.clause)} | {escape(c.level.value)} | {escape(c.outcome.value)} "
            f"| {escape(c.detail)} |"
            for c in schedule.checks
        ]
        lines.append("")
    return lines
