"""schedule.json, schedule.md, schedule.svg and schedule.png of one run.

JSON carries everything (times in real seconds) for tools; Markdown is for a reader: the
schedule per target, variant and scale, whether the two scales agree and why not, the checks.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.durations import format_duration
from harness.report.schedule_plot import schedule_png
from harness.report.schedule_section import target_schedule
from harness.schedule.agreement import Agreement
from harness.schedule.model import Schedule
from harness.schedule.runner import MeasuredSchedule, ScheduleResults
from harness.schedule.svg import schedule_svg


def write_schedule_reports(results: ScheduleResults, run_dir: Path) -> dict[str, Path]:
    paths = {
        "json": run_dir / "schedule.json",
        "markdown": run_dir / "schedule.md",
        "svg": run_dir / "schedule.svg",
        "png": run_dir / "schedule.png",
    }
    paths["json"].write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(to_markdown(results), encoding="utf-8")
    schedules = [m.schedule for m in results.measured if m.schedule is not None]
    # One target's rows together, each variant's two scales next to each other.
    targets = list(dict.fromkeys(s.target for s in schedules))
    schedules.sort(key=lambda s: (targets.index(s.target), s.variant, -s.time_scale))
    paths["svg"].write_text(schedule_svg(schedules, title="retry schedules"), encoding="utf-8")
    rows = [target_schedule(s) for s in schedules]
    paths["png"].write_bytes(schedule_png(rows, title="retry schedules"))
    return paths


def _schedule_json(schedule: Schedule) -> dict[str, Any]:
    return {
        "target": schedule.target,
        "version": schedule.version,
        "variant": schedule.variant,
        "method": schedule.method,
        "time_scale": schedule.time_scale,
        "attempts": [round(t, 1) for t in schedule.attempts],
        "first_retry": schedule.first_retry,
        "intervals": [round(t, 1) for t in schedule.intervals],
        "median_interval": schedule.median_interval,
        "longest_interval": schedule.longest_interval,
        "warning": schedule.warning,
        "give_up": schedule.give_up,
        "observed_for": schedule.observed_for,
        "distorted_parameters": [
            {
                "name": p.name,
                "default_seconds": p.default_seconds,
                "configured_seconds": p.configured_seconds,
                "distortion": p.distortion,
                "note": p.note,
            }
            for p in schedule.distorted
        ],
    }


def to_json(results: ScheduleResults) -> dict[str, Any]:
    return {
        "schedules": [
            {
                "target": m.target,
                "variant": m.variant,
                "method": m.method,
                "time_scale": m.time_scale,
                "error": m.error,
                "unseen_attempts": m.unseen_attempts,
                "schedule": _schedule_json(m.schedule) if m.schedule else None,
                "checks": [
                    {
                        "clause": c.clause,
                        "level": c.level.value,
                        "outcome": c.outcome.value,
                        "detail": c.detail,
                    }
                    for c in m.checks
                ],
            }
            for m in results.measured
        ],
        "agreements": [
            {**asdict(a), "agrees": a.agrees} | {"metrics": [asdict(m) for m in a.metrics]}
            for a in results.agreements
        ],
    }


def _compression(method: str, time_scale: float) -> str:
    """`k=1440` for a scaled configuration, `warp x2880` for the stock one on a fast clock."""
    return f"warp x{time_scale:g}" if method == "clock-warp" else f"k={time_scale:g}"


def _d(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(seconds)


def _schedule_rows(measured: tuple[MeasuredSchedule, ...]) -> list[str]:
    lines = [
        "| target | variant | compression | attempts | first retry | median interval "
        "| longest interval | warning | give-up | distorted parameters |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in measured:
        s = m.schedule
        if s is None:
            lines.append(
                f"| {m.target} | {m.variant} | {_compression(m.method, m.time_scale)} "
                f"| error: {m.error} |"
            )
            continue
        distorted = ", ".join(f"{p.name} x{p.distortion:.3g}" for p in s.distorted) or "none"
        if m.unseen_attempts:
            distorted += (
                f"; {m.unseen_attempts} attempt(s) only in the MTA's log (the connection failed "
                "before the receiver saw it)"
            )
        lines.append(
            f"| {s.target} {s.version} | {s.variant} | {_compression(s.method, s.time_scale)} "
            f"| {len(s.attempts)} "
            f"| {_d(s.first_retry)} | {_d(s.median_interval)} | {_d(s.longest_interval)} "
            f"| {_d(s.warning)} | {_d(s.give_up)} | {distorted} |"
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
                f"| {m.target} | {m.variant} | {_compression(m.method, m.time_scale)} "
                f"| {c.clause} | {c.level.value} "
                f"| {c.outcome.value} | {c.detail} |"
            )
    return "\n".join(lines) + "\n"
