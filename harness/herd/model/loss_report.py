"""The loss curves' reports: `loss.json` for tools, `loss.md` for a reader, `loss.png`/`.svg`.

The Markdown opens with the outage of January 2023 (four days): per class, what a 4xx outage
and a 5xx outage of that length lose. Every class carries its evidence (measured, documented,
assumption, weak) in each table, and its sources follow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.durations import format_duration
from harness.errors import ReportWriteError
from harness.herd.model.loss import JANUARY_2023, MIX, MODES, LossCurve, LossPoint

FORMAT = "mailstorm-herd-loss/1"
#: The outage lengths of the Markdown tables (hours).
TABLE_HOURS = (1, 6, 12, 24, 48, 72, 96, 120, 168)


def loss_to_json(curves: Sequence[LossCurve]) -> dict[str, Any]:
    """Every curve with its points (fractions of the outage's mail; delays in real seconds
    after reopening)."""
    return {
        "format": FORMAT,
        "january_2023_outage": JANUARY_2023,
        "curves": [
            {
                "sender": c.sender,
                "mode": c.mode,
                "evidence": c.evidence,
                "share": c.share,
                "source": c.source,
                "points": [_point_json(p) for p in c.points],
            }
            for c in curves
        ],
    }


def _point_json(point: LossPoint) -> dict[str, Any]:
    return {
        "outage": point.outage,
        "lost": round(point.lost, 6),
        "late": round(point.late, 6),
        "at_once": round(point.at_once, 6),
        "delay_median": point.delay_median,
        "delay_p90": point.delay_p90,
        "delay_max": point.delay_max,
    }


def _pct(value: float) -> str:
    if abs(value - 1) < 1e-9:
        return "100%"
    return f"{value:.0%}" if value < 0.995 else ">99%"


def _delay(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _nearest(curve: LossCurve, outage: float) -> LossPoint:
    return min(curve.points, key=lambda p: abs(p.outage - outage))


def _senders(curves: Sequence[LossCurve]) -> list[str]:
    names = list(dict.fromkeys(c.sender for c in curves if c.sender != MIX))
    return [*names, MIX]


def _curve(curves: Sequence[LossCurve], sender: str, mode: str) -> LossCurve:
    return next(c for c in curves if c.sender == sender and c.mode == mode)


def to_markdown(curves: Sequence[LossCurve], plot_name: str = "loss.png") -> str:
    """The January 2023 table, one table per failure mode over the outage lengths, the plot
    and every class's sources."""
    senders = _senders(curves)
    day4 = JANUARY_2023
    lines = [
        "# How much mail an outage loses, by sender",
        "",
        "Fractions of the mail sent to the receiver during the outage. **lost**: queued, then "
        "bounced when the sender's queue lifetime ran out; **at once**: refused for good on "
        "its first reply (a 5xx, or a sender with no queue); **late**: delivered after "
        "reopening (median and 90th percentile of the delay after reopening). Evidence: "
        "*measured* by mailstorm, *documented* by the sender's own documentation (documented, "
        "not measured), *assumption*, *weak* (documented by nobody).",
        "",
        f"## An outage of {format_duration(day4)} (January 2023)",
        "",
        "| sender | evidence | share of the mix | 4xx: lost | 4xx: late (median, p90) "
        "| refused: lost | blackhole: lost | 5xx: refused at once | 5xx: lost |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for sender in senders:
        four = _nearest(_curve(curves, sender, "4xx"), day4)
        refused = _nearest(_curve(curves, sender, "refused"), day4)
        blackhole = _nearest(_curve(curves, sender, "blackhole"), day4)
        five = _nearest(_curve(curves, sender, "5xx"), day4)
        curve = _curve(curves, sender, "4xx")
        name = f"**{sender}**" if sender == MIX else sender
        lines.append(
            f"| {name} | {curve.evidence} | {curve.share:.0%} "
            f"| {_pct(four.lost + four.at_once)} "
            f"| {_pct(four.late)} ({_delay(four.delay_median)}, {_delay(four.delay_p90)}) "
            f"| {_pct(refused.lost + refused.at_once)} "
            f"| {_pct(blackhole.lost + blackhole.at_once)} "
            f"| {_pct(five.at_once)} | {_pct(five.lost)} |"
        )
    for mode in MODES:
        lines += [
            "",
            f"## {mode}: share of the mail not delivered (lost + refused at once), by outage",
            "",
            "| sender | " + " | ".join(f"{h} h" for h in TABLE_HOURS) + " |",
            "|---|" + "---:|" * len(TABLE_HOURS),
        ]
        for sender in senders:
            curve = _curve(curves, sender, mode)
            cells = [_nearest(curve, h * 3600.0) for h in TABLE_HOURS]
            lines.append(
                f"| {sender} | " + " | ".join(_pct(p.lost + p.at_once) for p in cells) + " |"
            )
    lines += ["", f"![loss by outage length]({plot_name})", "", "## Sources", ""]
    for sender in senders:
        for mode in MODES:
            curve = _curve(curves, sender, mode)
            if mode == "4xx" or "[" in curve.source:
                lines.append(f"- **{sender}** ({mode}, {curve.evidence}): {curve.source}")
    lines += [
        "",
        "## How it is computed",
        "",
        "Mail arrives at a constant rate during the outage and is first attempted on arrival; "
        "the herd model (docs/herd-model.md) at unlimited capacity, with no new mail after "
        "reopening, gives each class's bounces and the delivery times of the rest. A class "
        "measured for a failure mode is used for it; otherwise its 4xx schedule stands in (its "
        "source says so). 5xx: the share a class refused at once is its matrix cell "
        "`outage-72h-550` where one is given, else 1 (RFC 5321 4.2.1); the rest follows the "
        "4xx schedule. Senders with no queue (matrix cell `outage-72h-451`: every message "
        "tried once) lose everything at once, in every mode.",
    ]
    return "\n".join(lines) + "\n"


def write_loss_plots(curves: Sequence[LossCurve], run_dir: Path, stem: str = "loss") -> list[Path]:
    """`<stem>.png` and `<stem>.svg`: per failure mode, the share not delivered vs the outage."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 9), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2, sharex=True, sharey=True)
    styles = {"measured": "-", "documented": "--", "assumption": "-.", "weak": ":"}
    for ax, mode in zip(axes.flat, MODES, strict=True):
        for curve in (c for c in curves if c.mode == mode):
            hours = [p.outage / 3600 for p in curve.points]
            share = [p.lost + p.at_once for p in curve.points]
            if curve.sender == MIX:
                ax.plot(hours, share, color="black", linewidth=3, label="mix")
            else:
                ax.plot(
                    hours,
                    share,
                    linestyle=styles.get(str(curve.evidence), "-"),
                    linewidth=1.2,
                    label=f"{curve.sender} ({curve.evidence})",
                )
        ax.axvline(JANUARY_2023 / 3600, color="red", alpha=0.6, label="January 2023 (4 days)")
        ax.set_title(f"{mode}: mail not delivered")
        ax.set_xlabel("outage (hours)")
        ax.set_ylabel("share of the outage's mail")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=8)
    paths = [run_dir / f"{stem}.png", run_dir / f"{stem}.svg"]
    for path in paths:
        figure.savefig(path, dpi=100)
    return paths


def write_loss_reports(curves: Sequence[LossCurve], run_dir: Path) -> dict[str, Path]:
    """loss.json, loss.md, loss.png and loss.svg into `run_dir`."""
    paths = {"json": run_dir / "loss.json", "markdown": run_dir / "loss.md"}
    try:
        paths["json"].write_text(json.dumps(loss_to_json(curves), indent=1) + "\n", "utf-8")
        paths["markdown"].write_text(to_markdown(curves), encoding="utf-8")
        png, svg = write_loss_plots(curves, run_dir)
    except OSError as error:
        raise ReportWriteError(f"cannot write the loss curves in {run_dir}: {error}") from None
    paths["png"], paths["svg"] = png, svg
    return paths


def summary_lines(curves: Sequence[LossCurve]) -> list[str]:
    """The January 2023 outage in a few lines for the terminal."""
    lines = [f"an outage of {format_duration(JANUARY_2023)}: share of its mail not delivered"]
    lines.append(
        f"{'sender':22}{'evidence':>12}{'4xx':>8}{'refused':>9}{'blackhole':>11}{'5xx':>7}"
    )
    for sender in _senders(curves):
        cells = [_nearest(_curve(curves, sender, m), JANUARY_2023) for m in MODES]
        evidence = _curve(curves, sender, "4xx").evidence
        shares = [p.lost + p.at_once for p in cells]
        lines.append(
            f"{sender:22}{evidence:>12}"
            + "".join(f"{_pct(v):>{w}}" for v, w in zip(shares, (8, 9, 11, 7), strict=True))
        )
    return lines
