"""Retry schedules as a PNG (matplotlib, Agg): the SVG timeline's picture, for where SVG is not
shown (a CI job summary, a chat, a slide).

One row per schedule, attempts as ticks on a linear axis of days (0 to 5, or to the latest
event), the delay warning a triangle and the give-up a cross, each labelled with its time.
matplotlib is imported when a plot is drawn, not with the module: `harness.report` is imported
by the ledger, hence by every command, and matplotlib costs a third of a second to import.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.report import cells
from harness.report.schedule_svg import (
    ATTEMPT_COLOUR,
    DAY,
    GIVE_UP_COLOUR,
    WARNING_COLOUR,
    schedule_span,
)
from harness.results import Schedule

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_INCHES = 10.0
ROW_INCHES = 0.75
DPI = 100


def schedule_png(
    schedules: Sequence[Schedule],
    *,
    title: str,
    span: float | None = None,
    labels: Sequence[str] | None = None,
) -> bytes:
    """The PNG image of `schedules`, one row each, top to bottom in the order given.

    `span` fixes the axis length in seconds (default: `schedule_span(schedules)`); `labels`
    names the rows (default: target, variant and compression; a repeated measurement adds its
    run).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    span = span or schedule_span(schedules)
    rows = max(1, len(schedules))
    figure = Figure(figsize=(WIDTH_INCHES, 1.5 + ROW_INCHES * rows), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for row, schedule in enumerate(schedules):
        y = rows - 1 - row  # the first schedule on top
        _draw_row(axes, schedule, y)
    days = int(span // DAY)
    axes.set_xlim(0, days)
    axes.set_ylim(-0.6, rows - 0.4)
    axes.set_xticks(range(days + 1), [f"{day}d" for day in range(days + 1)])
    axes.set_yticks(
        [rows - 1 - row for row in range(len(schedules))],
        list(labels) if labels is not None else [_label(schedule) for schedule in schedules],
    )
    axes.grid(axis="x", color="#dadce0")
    axes.set_axisbelow(True)
    axes.set_xlabel("real time since injection (days)")
    axes.set_title(title, loc="left", fontsize=11)
    axes.legend(
        handles=[
            Line2D([], [], color=ATTEMPT_COLOUR, marker="|", linestyle="", markersize=12),
            Line2D([], [], color=WARNING_COLOUR, marker="v", linestyle=""),
            Line2D([], [], color=GIVE_UP_COLOUR, marker="x", linestyle="", markeredgewidth=2),
        ],
        labels=["attempt", "delay warning", "give-up (bounce)"],
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=3,
        frameon=False,
        fontsize=9,
    )
    if not schedules:
        axes.text(days / 2, 0, "no schedule", ha="center", va="center", color="#5f6368")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _draw_row(axes: Axes, schedule: Schedule, y: float) -> None:
    axes.barh(y, schedule.observed_for / DAY, height=0.08, color="#e8eaed", left=0)
    axes.vlines(
        [t / DAY for t in schedule.attempts], y - 0.22, y + 0.22, color=ATTEMPT_COLOUR, lw=1.2
    )
    if schedule.warning is not None:
        w = schedule.warning / DAY
        axes.plot([w], [y + 0.3], marker="v", color=WARNING_COLOUR, markersize=8)
        axes.annotate(
            f"warning {cells.schedule_time(schedule, schedule.warning)}",
            (w, y + 0.3),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=WARNING_COLOUR,
        )
    if schedule.give_up is not None:
        g = schedule.give_up / DAY
        axes.plot([g], [y], marker="x", color=GIVE_UP_COLOUR, markersize=10, mew=2.5)
        axes.annotate(
            f"bounce {cells.schedule_time(schedule, schedule.give_up)}",
            (g, y - 0.3),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
            color=GIVE_UP_COLOUR,
        )


def _label(schedule: Schedule) -> str:
    return (
        f"{schedule.target} {schedule.version}\n{schedule.variant}, {cells.method_text(schedule)}"
    )
