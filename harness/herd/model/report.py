"""The herd model's reports: a text summary for the terminal, Markdown for a reader,
`herd-model.json` for tools, and the plots, all in one run directory."""

from __future__ import annotations

import json
import math
from pathlib import Path

from harness.durations import format_duration
from harness.errors import ReportWriteError
from harness.herd.model.json_format import prediction_to_json
from harness.herd.model.plot import write_plots
from harness.herd.model.prediction import DRAIN_FRACTION, HerdPrediction


def _count(messages: float) -> str:
    if messages >= 1e6:
        return f"{messages / 1e6:.2f} M"
    if messages >= 1e4:
        return f"{messages / 1e3:.1f} k"
    return f"{messages:.0f}"


def _rate(per_second: float) -> str:
    return "unlimited" if math.isinf(per_second) else f"{per_second:,.0f}/s"


def summary_lines(prediction: HerdPrediction) -> list[str]:
    """The result in a few lines, then the sender classes and the assumptions."""
    scenario = prediction.scenario
    names = prediction.classes
    total = sum
    drain = (
        "never within the horizon (capacity too low for the backlog plus the normal rate)"
        if prediction.drain_time is None
        else format_duration(prediction.drain_time)
        + f" after reopening (queued mail below {DRAIN_FRACTION:.0%} of the backlog)"
    )
    lines = [
        f"herd model: {format_duration(scenario.outage)} outage, normal inbound "
        f"{scenario.rate:g} msgs/s, receiver capacity {_rate(prediction.capacity)}",
        "",
        f"{'':32}" + "".join(f"{name:>12}" for name in names) + f"{'total':>12}",
    ]
    rows = (
        ("backlog at reopening", prediction.backlog_at_reopening),
        ("bounced during the outage", prediction.bounced_during_outage),
        ("delay warnings during outage", prediction.warned_during_outage),
        ("bounced after reopening", prediction.bounced_after_reopening),
    )
    for label, values in rows:
        lines.append(
            f"{label:32}"
            + "".join(f"{_count(values[name]):>12}" for name in names)
            + f"{_count(total(values.values())):>12}"
        )
    lines += [
        "",
        f"peak offered load: {prediction.peak_offered_rate:,.0f} msgs/s "
        f"({prediction.peak_offered_rate / max(scenario.rate, 1e-9):.1f}x normal) at "
        f"{format_duration(prediction.peak_time)} after reopening",
        f"drain time: {drain}",
        "",
        "sender classes:",
    ]
    for s in scenario.senders:
        lines.append(
            f"  {s.name}: share {s.share:g}, give-up {format_duration(s.give_up)}, "
            f"{len(s.attempt_offsets())} attempts, retry anchored per {s.anchor}, "
            f"queue run {format_duration(s.scan_interval)}, concurrency {s.concurrency}"
            f"{'' if s.hosts is None else f' x {s.hosts} hosts'}"
        )
        lines.append(f"    source: {s.source}")
    lines += ["", "assumptions:"]
    lines += [f"  - {text}" for text in prediction.assumptions]
    return lines


def to_markdown(prediction: HerdPrediction, plot_name: str = "herd-model.png") -> str:
    """A page for a reader: the table, the plot, the classes and the assumptions."""
    names = prediction.classes
    rows = (
        ("backlog at reopening", prediction.backlog_at_reopening),
        ("bounced during the outage", prediction.bounced_during_outage),
        ("delay warnings sent during the outage", prediction.warned_during_outage),
        ("bounced after reopening", prediction.bounced_after_reopening),
    )
    summary = summary_lines(prediction)
    lines = [
        "# Reopening herd: model",
        "",
        summary[0],
        "",
        "| messages | " + " | ".join(names) + " | total |",
        "|---|" + "---:|" * (len(names) + 1),
    ]
    for label, values in rows:
        cells = [_count(values[name]) for name in names] + [_count(sum(values.values()))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", *[line for line in summary[7:] if line and not line.startswith(" ")][:2], ""]
    lines += [f"![herd model]({plot_name})", "", "## Sender classes", ""]
    for s in prediction.scenario.senders:
        lines.append(f"- **{s.name}** (share {s.share:g}): {s.source}")
    lines += ["", "## Assumptions", ""]
    lines += [f"- {text}" for text in prediction.assumptions]
    return "\n".join(lines) + "\n"


def write_herd_reports(prediction: HerdPrediction, run_dir: Path) -> dict[str, Path]:
    """herd-model.json, herd-model.md, herd-model.png and herd-model.svg into `run_dir`."""
    paths = {"json": run_dir / "herd-model.json", "markdown": run_dir / "herd-model.md"}
    try:
        paths["json"].write_text(
            json.dumps(prediction_to_json(prediction), indent=1) + "\n", encoding="utf-8"
        )
        paths["markdown"].write_text(to_markdown(prediction), encoding="utf-8")
        png, svg = write_plots(prediction, run_dir)
    except OSError as error:
        raise ReportWriteError(
            f"cannot write the herd model's reports in {run_dir}: {error}"
        ) from None
    paths["png"], paths["svg"] = png, svg
    return paths
