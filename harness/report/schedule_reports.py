"""schedule.json, schedule.md, schedule.svg and schedule.png of one schedule run.

JSON carries everything (times in real seconds) for tools (`harness.results.schedule_json`
writes and reads it); Markdown is for a reader: the
schedule per target, variant and scale, whether the two scales agree and why not, the checks.
"""

from __future__ import annotations

from pathlib import Path

from harness.durations import format_duration
from harness.files import write_bytes_atomically, write_text_atomically
from harness.report.schedule_plot import schedule_png
from harness.report.schedule_svg import schedules_svg
from harness.results import Agreement, MeasuredSchedule, ScheduleResults, write_schedule_json


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
    schedules = [m.schedule for m in results.measured if m.schedule is not None]
    # One target's rows together, each variant's two scales next to each other.
    targets = list(dict.fromkeys(s.target for s in schedules))
    schedules.sort(key=lambda s: (targets.index(s.target), s.variant, -s.time_scale))
    write_text_atomically(paths["svg"], schedules_svg(schedules, title="retry schedules"))
    write_bytes_atomically(paths["png"], schedule_png(schedules, title="retry schedules"))
    return paths


def _d(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(seconds)


def _schedule_rows(measured: tuple[MeasuredSchedule, ...]) -> list[str]:
    lines = [
        "| target | variant | compression | attempts | first retry | its window (phase) "
        "| median interval | longest interval | warning | give-up | ± on every time "
        "| distorted parameters |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in measured:
        s = m.schedule
        if s is None:
            lines.append(
                f"| {m.target} | {m.variant} | {m.method.label(m.time_scale)} | error: {m.error} |"
            )
            continue
        distorted = ", ".join(f"{p.name} x{p.distortion:.3g}" for p in s.distorted) or "none"
        if m.unseen_attempts:
            distorted += (
                f"; {m.unseen_attempts} attempt(s) only in the MTA's log (the connection failed "
                "before the receiver saw it)"
            )
        u = f"± {_d(s.time_uncertainty)}" if s.time_uncertainty else "not established"
        window = (
            f"{_d(s.first_retry_window[0])} to {_d(s.first_retry_window[1])}"
            if s.first_retry_window
            else "—"
        )
        lines.append(
            f"| {s.target} {s.version} | {s.variant} | {s.label} "
            f"| {len(s.attempts)} "
            f"| {_d(s.first_retry)} | {window} | {_d(s.median_interval)} "
            f"| {_d(s.longest_interval)} | {_d(s.warning)} | {_d(s.give_up)} | {u} | {distorted} |"
        )
    return lines


def _agreement_rows(agreement: Agreement) -> list[str]:
    fine, coarse = agreement.labels
    verdict = "agree" if agreement.agrees else "disagree"
    lines = [
        f"### {agreement.target} {agreement.variant}: {fine} vs {coarse} ({verdict})",
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
        *_schedule_rows(results.measured),
        "",
        "## Agreement between time scales",
        "",
    ]
    for agreement in results.agreements:
        lines += _agreement_rows(agreement)
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
                f"| {m.target} | {m.variant} | {m.method.label(m.time_scale)} "
                f"| {c.clause} | {c.level.value} "
                f"| {c.outcome.value} | {c.detail} |"
            )
    return "\n".join(lines) + "\n"
