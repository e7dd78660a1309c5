"""The reopen experiment's report: JSON, Markdown and a plot, measured beside the model.

For each policy the report puts what the receiver measured (offered and accepted messages per
real minute, connection burst, concurrency, drain time, duplicates, what is still queued) next
to what the herd model predicts for the same outage, mix and capacity (`reopen_model`). Files:
`herd-reopen.json` (format `mailstorm-herd-reopen/1`), `herd-reopen.md`, `herd-reopen.png`
and `herd-reopen.svg`. matplotlib is imported only when the plot is drawn, on an Agg canvas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.durations import format_duration
from harness.errors import ReportWriteError
from harness.herd.reopen.experiment import PolicyResult, ReopenResults
from harness.herd.reopen.machine_report import machine_json, machine_markdown
from harness.herd.reopen.measure import Measurement, SessionSpan
from harness.herd.reopen.model import ModelCurve, predict_reopen, sender_classes
from harness.herd.reopen.phase import MtaPhase, mta_phases
from harness.herd.reopen.phase_report import phase_json, phase_markdown
from harness.herd.reopen.plan import OutageVariant, Policy

FORMAT = "mailstorm-herd-reopen/1"
STEM = "herd-reopen"


@dataclass(frozen=True)
class PolicyReport:
    """One policy: the measured herd, and the model's curve for the same situation."""

    result: PolicyResult
    model: ModelCurve
    phases: tuple[MtaPhase, ...] = ()


def model_curves(results: ReopenResults) -> list[PolicyReport]:
    """The model's prediction for each measured policy (see `harness.herd.reopen.model`)."""
    exp = results.experiment
    served = [
        p.measurement.served_session_seconds
        for p in results.policies
        if p.measurement.served_session_seconds
    ]
    # One set of classes for the model's curves and the phase table: the outage rule of a
    # `4xx` run defers at RCPT, where Exim keeps its retry state per address.
    at_rcpt = exp.variant is OutageVariant.REPLY_4XX
    classes = sender_classes(exp.senders, exp.model_classes, deferred_at_rcpt=at_rcpt)
    reports = []
    for result in results.policies:
        m = result.measurement
        session = m.served_session_seconds or (max(served) if served else None)
        model = predict_reopen(
            classes=classes,
            outage=exp.outage,
            messages=m.injected,
            policy=result.policy,
            capacity_sessions=exp.capacity,
            session_seconds=session,
            bin_seconds=exp.bin_seconds,
        )
        ready = {s.label: s.ready_before_outage for s in result.senders}
        phases = tuple(mta_phases(m, classes, model.offered_by_class, ready))
        reports.append(PolicyReport(result, model, phases))
    return reports


def write_reopen_reports(results: ReopenResults, directory: Path) -> dict[str, Path]:
    """Write the JSON, Markdown, PNG and SVG reports; their paths by kind."""
    reports = model_curves(results)
    paths = {kind: directory / f"{STEM}.{kind}" for kind in ("json", "md", "png", "svg")}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths["json"].write_text(
            json.dumps(to_json(results, reports), indent=2) + "\n", encoding="utf-8"
        )
        paths["md"].write_text(to_markdown(results, reports, paths["png"].name), encoding="utf-8")
        write_plot(results, reports, paths["png"], paths["svg"])
    except OSError as error:
        raise ReportWriteError(
            f"cannot write the reopen report in {directory}: {error.strerror or error}"
        ) from error
    return paths


# -- JSON -----------------------------------------------------------------------------------


def to_json(results: ReopenResults, reports: Sequence[PolicyReport]) -> dict[str, Any]:
    exp = results.experiment
    return {
        "format": FORMAT,
        "experiment": {
            "senders": str(exp.senders),
            "variant": exp.variant.value,
            "outage_seconds": exp.outage,
            "time_scale": exp.time_scale,
            "capacity_sessions": exp.capacity,
            "messages_per_sender": exp.messages_per_sender,
            "observe_seconds": exp.observe,
            "settle_seconds": exp.settle,
            "bin_seconds": exp.bin_seconds,
            "policies": [p.value for p in exp.policies],
        },
        "wall_seconds": round(results.wall_seconds, 1),
        "targets": results.targets,
        "machine": machine_json(results.machine),
        "policies": [_policy_json(report) for report in reports],
    }


def _policy_json(report: PolicyReport) -> dict[str, Any]:
    result, model, m = report.result, report.model, report.result.measurement
    return {
        "policy": result.policy.value,
        "plan": result.plan,
        "senders": [
            {
                "label": s.label,
                "mta": s.mta,
                "version": s.version,
                "address": s.address,
                "distorted": list(s.distorted),
            }
            for s in result.senders
        ],
        "measured": {
            "injected": m.injected,
            "injected_after_reopening": m.injected_late,
            "delivered": m.delivered,
            "duplicates": list(m.duplicates),
            "still_queued": m.still_queued,
            "lost": m.lost,
            "accepted_before_reopen": m.accepted_before_reopen,
            "drain_seconds": _round(m.drain_time),
            "observed_until_seconds": round(m.observed_until, 1),
            "peak_concurrency": m.peak_concurrency,
            "peak_served_concurrency": m.peak_served,
            "peak_connection_rate_per_minute": round(m.peak_connection_rate * 60, 3),
            "refused_sessions": m.refused_sessions,
            "served_session_seconds": _round(m.served_session_seconds),
            "per_sender": [
                {
                    "sender": s.sender,
                    "mta": s.mta,
                    "injected": s.injected,
                    "accepted": s.accepted,
                    "connections": s.connections,
                    "peak_concurrency": s.peak_concurrency,
                    "refused": s.refused,
                    "outage_connections": s.outage_connections,
                    "first_accepted_seconds": _round(s.first_accepted),
                    "last_accepted_seconds": _round(s.last_accepted),
                }
                for s in m.senders
            ],
            "curve": {
                "bin_starts": [round(t, 1) for t in m.bin_starts],
                "connections": list(m.connections),
                "attempts": list(m.attempts),
                "offered": list(m.offered),
                "accepted": list(m.accepted),
                "accepted_by_mta": {mta: list(c) for mta, c in m.accepted_by_mta.items()},
            },
        },
        "phases": phase_json(report.phases),
        "model": {
            "backlog_at_reopening": round(model.backlog_at_reopening, 3),
            "peak_offered_per_minute": round(model.peak_offered_rate * 60, 3),
            "peak_time_seconds": model.peak_time,
            "drain_seconds": _round(model.drain_time),
            "capacity_per_second": _round(model.capacity),
            "session_seconds": _round(model.session_seconds),
            "notes": list(model.notes),
            "assumptions": list(model.assumptions),
            "curve": {
                "bin_starts": list(model.bin_starts),
                "offered_per_second": [round(v, 6) for v in model.offered],
                "accepted_per_second": [round(v, 6) for v in model.accepted],
                "offered_per_second_by_class": {
                    name: [round(v, 6) for v in values]
                    for name, values in model.offered_by_class.items()
                },
            },
        },
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# -- Markdown -------------------------------------------------------------------------------


def to_markdown(results: ReopenResults, reports: Sequence[PolicyReport], plot: str) -> str:
    exp = results.experiment
    lines = [
        "# Reopen experiment: the measured herd beside the model",
        "",
        f"Senders **{exp.senders}** per policy (each its own container), outage "
        f"**{format_duration(exp.outage)} `{exp.variant.value}`**, "
        f"{exp.messages_per_sender} messages injected into each sender evenly over the outage, "
        f"admission capacity **C = {exp.capacity}** sessions. Time scale k = {exp.time_scale:g}: "
        f"all times are real MTA time (wall x k); the run took {results.wall_seconds:.0f} s "
        "of wall time.",
        "",
        f"![offered and accepted per real minute, measured and modelled]({plot})",
        "",
        "| | " + " | ".join(_policy_heads(reports)) + " |",
        "|---|" + "---|" * (2 * len(reports)),
        *_summary_rows(reports),
        "",
        "## Per sender container",
        "",
        "| policy | sender | injected | accepted | sessions in the outage | connections "
        "after | peak concurrency | 421s | first / last delivery after reopening |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
        *(
            f"| {r.result.policy.value} | {s.sender} ({s.mta}) | {s.injected} | {s.accepted} | "
            f"{s.outage_connections} | {s.connections} | {s.peak_concurrency} | {s.refused} | "
            f"{_when(s.first_accepted)} / {_when(s.last_accepted)} |"
            for r in reports
            for s in r.result.measurement.senders
        ),
        "",
        *phase_markdown([(r.result.policy.value, r.phases) for r in reports], exp.bin_seconds),
        "## Curves after reopening (messages per real minute)",
        "",
        *_curve_table(reports),
        "",
        *machine_markdown(results.machine),
        "## How to read this",
        "",
        "- *Offered*: message attempts (MAIL commands of injected messages) plus sessions "
        "refused at the greeting; *accepted*: messages acknowledged with 250 (duplicates "
        "included). Measured in bins of "
        f"{format_duration(exp.bin_seconds)}; concurrency is sessions open at once, *served* "
        "those greeted with 220.",
        "- *Drain*: from the reopening to the first acceptance of the last injected message "
        "(measured); the model's is when its senders' backlog stays under 1% of the backlog "
        "at reopening.",
        *(
            f"- Model: {note}."
            for note in dict.fromkeys(note for r in reports for note in r.model.notes)
        ),
        *_fidelity(results),
        "",
        "Model assumptions:",
        "",
        *(f"- {line}" for line in (reports[0].model.assumptions if reports else ())),
        "",
    ]
    return "\n".join(lines)


def _policy_heads(reports: Sequence[PolicyReport]) -> list[str]:
    return [f"{r.result.policy.value} {kind}" for r in reports for kind in ("measured", "model")]


def _summary_rows(reports: Sequence[PolicyReport]) -> list[str]:
    def row(name: str, cells: list[str]) -> str:
        return f"| {name} | " + " | ".join(cells) + " |"

    def pair(measured: str, modelled: str) -> list[str]:
        return [measured, modelled]

    rows: list[list[str]] = [[] for _ in range(9)]
    for r in reports:
        m, model = r.result.measurement, r.model
        offered = [
            v * 60 / m.bin_seconds for v, t in zip(m.offered, m.bin_starts, strict=True) if t >= 0
        ]
        accepted = [
            v * 60 / m.bin_seconds for v, t in zip(m.accepted, m.bin_starts, strict=True) if t >= 0
        ]
        rows[0] += pair(f"{m.delivered}/{m.injected}", f"{model.backlog_at_reopening:.0f}")
        rows[1] += pair(
            f"{max(offered, default=0):.2f}/min", f"{model.peak_offered_rate * 60:.2f}/min"
        )
        rows[2] += pair(
            f"{max(accepted, default=0):.2f}/min", f"{max(model.accepted, default=0) * 60:.2f}/min"
        )
        rows[3] += pair(_when(_peak_time(m)), _when(model.peak_time))
        rows[4] += pair(_when(m.drain_time, "not drained"), _when(model.drain_time, "not drained"))
        rows[5] += pair(f"{m.peak_connection_rate * 60:.2f}/min", "-")
        rows[6] += pair(f"{m.peak_concurrency} ({m.peak_served} served)", "-")
        rows[7] += pair(f"{m.refused_sessions}", "-")
        rows[8] += pair(f"{len(m.duplicates)} / {m.still_queued} / {m.lost}", "0 / - / -")
    names = [
        "delivered / backlog at reopening",
        "peak offered rate",
        "peak accepted rate",
        "peak at (after reopening)",
        "drain time",
        f"connection burst (busiest {format_duration(reports[0].result.measurement.bin_seconds)})",
        "peak concurrency",
        "sessions refused with 421",
        "duplicates / still queued / lost",
    ]
    lines = [row(name, cells) for name, cells in zip(names, rows, strict=True)]
    mtas = dict.fromkeys(mta for r in reports for mta in r.result.measurement.accepted_by_mta)
    for mta in mtas:
        cells = []
        for r in reports:
            m = r.result.measurement
            curve = m.accepted_by_mta.get(mta, ())
            after = [v for v, t in zip(curve, m.bin_starts, strict=False) if t >= 0]
            modelled = r.model.offered_by_class.get(mta, ())
            cells += pair(
                f"{max(after, default=0) * 60 / m.bin_seconds:.2f}/min",
                f"{max(modelled, default=0) * 60:.2f}/min",
            )
        lines.append(row(f"peak accepted from {mta} (model: offered)", cells))
    return lines


def _peak_time(m: Measurement) -> float | None:
    after = [(v, t) for v, t in zip(m.offered, m.bin_starts, strict=True) if t >= 0]
    if not after or max(after)[0] == 0:
        return None
    return max(after, key=lambda pair: pair[0])[1]


def _when(seconds: float | None, missing: str = "-") -> str:
    if seconds is None:
        return missing
    return format_duration(seconds) if seconds >= 1 else "0"


def _curve_table(reports: Sequence[PolicyReport]) -> list[str]:
    if not reports:
        return []
    starts = sorted(
        {t for r in reports for t in r.result.measurement.bin_starts if t >= 0}
        | {t for r in reports for t in r.model.bin_starts}
    )
    heads = [
        f"{r.result.policy.value} {what}"
        for r in reports
        for what in ("offered", "accepted", "model offered", "model accepted")
    ]
    lines = [
        "| from | " + " | ".join(heads) + " |",
        "|---|" + "---:|" * len(heads),
    ]
    for t in starts:
        cells = []
        for r in reports:
            m = r.result.measurement
            per_minute = 60 / m.bin_seconds
            measured = dict(zip(m.bin_starts, zip(m.offered, m.accepted, strict=True), strict=True))
            offered, accepted = measured.get(t, (0, 0))
            modelled = dict(
                zip(
                    r.model.bin_starts,
                    zip(r.model.offered, r.model.accepted, strict=True),
                    strict=True,
                )
            )
            model_offered, model_accepted = modelled.get(t, (0.0, 0.0))
            cells += [
                f"{offered * per_minute:.2f}",
                f"{accepted * per_minute:.2f}",
                f"{model_offered * 60:.2f}",
                f"{model_accepted * 60:.2f}",
            ]
        if any(float(c) for c in cells):
            lines.append(f"| {format_duration(t) if t else '0'} | " + " | ".join(cells) + " |")
    return lines


def _fidelity(results: ReopenResults) -> list[str]:
    distorted = sorted(
        {f"{s.mta}: {d}" for p in results.policies for s in p.senders for d in s.distorted}
    )
    if not distorted:
        return []
    return [
        "- Scaled parameters off their real value at this k (effective/real): "
        + "; ".join(distorted)
        + "."
    ]


# -- plot -----------------------------------------------------------------------------------


def write_plot(
    results: ReopenResults, reports: Sequence[PolicyReport], png: Path, svg: Path
) -> None:
    """One panel per policy (offered and accepted per real minute, measured as steps, the
    model dashed), and one of served concurrency over time with the capacity C."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    exp = results.experiment
    figure = Figure(figsize=(10, 3.2 * (len(reports) + 1)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(reports) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for ax, report in zip(axes, reports, strict=False):
        m, model = report.result.measurement, report.model
        per_minute = 60 / m.bin_seconds
        minutes = [t / 60 for t in m.bin_starts]
        ax.step(
            minutes,
            [v * per_minute for v in m.offered],
            where="post",
            label="measured offered",
            color="tab:orange",
        )
        ax.step(
            minutes,
            [v * per_minute for v in m.accepted],
            where="post",
            label="measured accepted",
            color="tab:blue",
            linewidth=2,
        )
        model_minutes = [t / 60 for t in model.bin_starts]
        ax.step(
            model_minutes,
            [v * 60 for v in model.offered],
            where="post",
            linestyle="--",
            label="model offered",
            color="tab:red",
        )
        ax.step(
            model_minutes,
            [v * 60 for v in model.accepted],
            where="post",
            linestyle=":",
            label="model accepted",
            color="black",
        )
        ax.axvline(0, color="grey", linewidth=1)
        if m.drain_time is not None:
            ax.axvline(
                m.drain_time / 60,
                color="tab:blue",
                linestyle="-.",
                linewidth=1,
                label=f"drained {format_duration(m.drain_time)}",
            )
        ax.set_title(
            f"{report.result.policy.value}: {exp.senders}, {format_duration(exp.outage)} "
            f"{exp.variant.value} outage, k = {exp.time_scale:g}"
        )
        ax.set_ylabel("messages / real minute")
        ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)
    concurrency = axes[-1]
    for report in reports:
        m = report.result.measurement
        served = [
            replace(s, start=max(s.start, 0.0))
            for s in m.sessions
            if s.greeting == "220" and s.end >= 0
        ]
        times, values = concurrency_steps(served, until=m.observed_until)
        concurrency.step(
            [t / 60 for t in times],
            values,
            where="post",
            label=f"{report.result.policy.value}: served sessions",
        )
    if any(r.result.policy is Policy.ADMISSION for r in reports):
        concurrency.axhline(
            exp.capacity, color="red", linestyle="--", label=f"capacity C = {exp.capacity}"
        )
    concurrency.axvline(0, color="grey", linewidth=1)
    concurrency.set_xlabel("real minutes since reopening (negative: the outage)")
    concurrency.set_ylabel("served sessions at once\n(after reopening)")
    concurrency.legend(loc="upper right", fontsize="small")
    concurrency.grid(alpha=0.3)
    figure.savefig(png, dpi=110)
    figure.savefig(svg)


def concurrency_steps(
    spans: Sequence[SessionSpan], *, until: float
) -> tuple[list[float], list[int]]:
    """Sessions open over time as a step function: change times and the count from each."""
    edges = sorted([(s.start, 1) for s in spans] + [(min(s.end, until), -1) for s in spans])
    times: list[float] = [edges[0][0] if edges else 0.0]
    values: list[int] = [0]
    current = 0
    for t, step in edges:
        current += step
        if math.isclose(t, times[-1]):
            values[-1] = current
        else:
            times.append(t)
            values.append(current)
    times.append(until)
    values.append(current)
    return times, values
