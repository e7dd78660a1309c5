"""schedule.json, schedule.md, schedule.svg and schedule.png of one schedule run.

JSON carries everything (times in real seconds) for tools (`harness.results.schedule_json`
writes and reads it); Markdown is for a reader: the schedule per target, variant and scale
(and run, when measured more than once, with each quantity's min to max over the runs),
whether the scales agree and why not, the checks.
"""

from __future__ import annotations

from pathlib import Path

from harness.durations import format_duration
from harness.files import write_bytes_atomically, write_text_atomically
from harness.report import cells
from harness.report.schedule_plot import schedule_png
from harness.report.schedule_svg import schedules_svg
from harness.results import (
    Agreement,
    MeasuredSchedule,
    ScheduleResults,
    schedule_spreads,
    write_schedule_json,
)


def write_schedule_reports(results: ScheduleResults, run_dir: Path) -> dict[str, Path]:
    """Write schedule.json, schedule.md, schedule.svg and schedule.png into `run_dir`."""
    paths = {
        "json": run_dir / "schedule.json",
        "markdown": run_dir / "schedule.md",
        "svg": run_dir / "schedule.svg",
        "png": run_dir / "schedule.png",
    }
    write_schedule_json(results, paths["json"])
    write_text_atomically(paths["markdown"], to_markdown(results))
    measured = [m for m in results.measured if m.schedule is not None]
    # One target's rows together, each variant's compressions next to each other, each
    # compression's runs in order.
    targets = list(dict.fromkeys(m.target for m in measured))
    measured.sort(key=lambda m: (targets.index(m.target), m.variant, -m.time_scale, m.repeat))
    schedules = [m.schedule for m in measured if m.schedule is not None]
    runs = [_run(m, results.repeated) for m in measured]
    title = "retry schedules"
    labels = [
        f"{s.target} {s.version} {s.variant} {s.label}{run}"
        for s, run in zip(schedules, runs, strict=True)
    ]
    write_text_atomically(paths["svg"], schedules_svg(schedules, title=title, labels=labels))
    labels = [
        f"{s.target} {s.version}\n{s.variant}, {s.label}{run}"
        for s, run in zip(schedules, runs, strict=True)
    ]
    write_bytes_atomically(paths["png"], schedule_png(schedules, title=title, labels=labels))
    return paths


def _d(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(seconds)


def _window(window: tuple[float, float] | None) -> str:
    """A first-retry window as a table cell: `14m59s to 45m`, `—` when none was stated."""
    return "—" if window is None else f"{_d(window[0])} to {_d(window[1])}"


def _run(m: MeasuredSchedule, repeated: bool) -> str:
    return f" run {m.repeat + 1}" if repeated else ""


def _schedule_rows(measured: tuple[MeasuredSchedule, ...], repeated: bool) -> list[str]:
    lines = [
        "| target | variant | compression | attempts | first retry | its window (phase) "
        "| median interval | longest interval | warning | give-up | ± on every time "
        "| distorted parameters |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in measured:
        s = m.schedule
        compression = m.method.label(m.time_scale) + _run(m, repeated)
        if s is None:
            lines.append(f"| {m.target} | {m.variant} | {compression} | error: {m.error} |")
            continue
        distorted = ", ".join(f"{p.name} x{p.distortion:.3g}" for p in s.distorted) or "none"
        if m.unseen_attempts:
            distorted += (
                f"; {m.unseen_attempts} attempt(s) only in the MTA's log (the connection failed "
                "before the receiver saw it)"
            )
        u = f"± {_d(s.time_uncertainty)}" if s.time_uncertainty else "not established"
        window = _window(s.first_retry_window)
        lines.append(
            f"| {s.target} {s.version} | {s.variant} | {compression} "
            f"| {len(s.attempts)} "
            f"| {_d(s.first_retry)} | {window} | {_d(s.median_interval)} "
            f"| {_d(s.longest_interval)} | {_d(s.warning)} | {_d(s.give_up)} | {u} | {distorted} |"
        )
    return lines


def _spread_rows(results: ScheduleResults) -> list[str]:
    spreads = schedule_spreads(results.measured)
    if not spreads:
        return []
    lines = [
        "## Over the runs (min to max)",
        "",
        "The same measurements repeated, one run after another in fresh containers: where a "
        "value depends on the phase of the MTA's queue runs or scans, each run is another draw "
        "from the window its configuration allows (the first retry's window is beside it). ± is "
        "the largest of the runs'.",
        "",
        "| target | variant | compression | runs | attempts | first retry | its window (phase) "
        "| median interval | longest interval | warning | give-up | checks per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spread in spreads:
        v = cells.spread_values(spread)
        window = _window(spread.first_retry_window)
        runs = f"{spread.runs}" + (f" (+{spread.failed_runs} failed)" if spread.failed_runs else "")
        checks = "; ".join(
            f"{name}: {', '.join(o.value for o in outcomes)}" for name, outcomes in spread.outcomes
        )
        lines.append(
            f"| {spread.target} {spread.version} | {spread.variant} "
            f"| {spread.method.label(spread.time_scale)} | {runs} | {v['attempts']} "
            f"| {v['first_retry']} | {window} | {v['median_interval']} "
            f"| {v['longest_interval']} | {v['warning']} | {v['give_up']} | {checks} |"
        )
    return [*lines, ""]


def _agreement_rows(agreement: Agreement, repeated: bool) -> list[str]:
    fine, coarse = agreement.labels
    verdict = "agree" if agreement.agrees else "disagree"
    run = f" (run {agreement.repeat + 1})" if repeated else ""
    lines = [
        f"### {agreement.target} {agreement.variant}{run}: {fine} vs {coarse} ({verdict})",
        "",
        f"| metric | {fine} | {coarse} | difference | tolerance | agrees | explained by |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in agreement.metrics:
        show = (lambda v: "—" if v is None else f"{v:g}") if m.name == "attempts" else _d
        difference = m.difference
        shown_difference = "—" if difference is None else show(difference) if difference else "0"
        lines.append(
            f"| {m.name} | {show(m.values[0])} | {show(m.values[1])} | {shown_difference} "
            f"| {show(m.tolerance)} | {'yes' if m.agrees else '**no**'} "
            f"| {'; '.join(m.explained_by) or ('—' if m.agrees else 'not the scaling')} |"
        )
    return [*lines, ""]


def to_markdown(results: ScheduleResults) -> str:
    repeated = results.repeated
    lines = [
        "# Retry schedules",
        "",
        "Real MTA time since injection; one message per case. `k=K`: the MTA's time settings "
        "divided by K; `warp xK`: its stock settings on a clock K times faster (libfaketime), "
        "the reference where it runs. Tolerance: the larger of 10% and "
        "one queue scan of the target's unscaled configuration; a metric outside it is "
        "explained by the parameters whose distortion differs between the scales.",
        "",
        "## Schedules",
        "",
        *_schedule_rows(results.measured, repeated),
        "",
        *_spread_rows(results),
        "## Agreement between time scales",
        "",
    ]
    for agreement in results.agreements:
        lines += _agreement_rows(agreement, repeated)
    if not results.agreements:
        lines += ["(one time scale only: nothing to compare)", ""]
    lines += [
        "## RFC 5321 4.5.4.1 checks",
        "",
        "| target | variant | compression | clause | level | outcome | detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in results.measured:
        for c in m.checks:
            lines.append(
                f"| {m.target} | {m.variant} | {m.method.label(m.time_scale)}{_run(m, repeated)} "
                f"| {c.clause} | {c.level.value} "
                f"| {c.outcome.value} | {c.detail} |"
            )
    return "\n".join(lines) + "\n"
