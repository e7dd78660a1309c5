"""A target's retry schedule drawn as SVG: attempts as ticks on a linear axis of days.

Linear, unlike the matrix's log timeline: the point is the schedule's shape (intervals growing
to a cap, the warning at a day, the give-up at day 4 or 5), which a log axis would bend. The axis
spans 0 to 5 days, or to the latest event rounded up to whole days when later, with a gridline
per day. The delay warning is a triangle and the give-up a cross, each labelled with its time.
Colours are attributes, not a stylesheet, so the same markup is inline in matrix.html and a
file of its own (`schedule-<target>.svg`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from harness.durations import format_duration
from harness.report import cells
from harness.report._text import printable
from harness.results import Schedule

DAY = 86400.0
#: The axis always covers at least this much real time: Postfix gives up after 5 days.
MINIMUM_SPAN = 5 * DAY
ATTEMPT_COLOUR, WARNING_COLOUR, GIVE_UP_COLOUR = "#e37400", "#1967d2", "#c5221f"
_MUTED, _GRID, _OBSERVED = "#5f6368", "#dadce0", "#e8eaed"
_LEFT, _PLOT, _RIGHT = 24, 760, 36
_HEADING = 24  #: room for the title line of a standalone file
_LABELS = 30  #: room above the track for the warning's and the give-up's labels
_TRACK = 28  #: the row of ticks
_AXIS = 40  #: the day labels and the caption under the track


def schedule_span(schedules: Sequence[Schedule]) -> float:
    """The axis length: 5 days, or the latest attempt, warning or give-up in whole days."""
    latest = max(
        (t for s in schedules for t in (*s.attempts, s.warning or 0.0, s.give_up or 0.0)),
        default=0.0,
    )
    return max(MINIMUM_SPAN, math.ceil(latest / DAY) * DAY)


def schedule_timeline_svg(
    schedule: Schedule, *, span: float | None = None, standalone: bool = False
) -> str:
    """One target's schedule as an `<svg>`: inline in a page, or a file with `standalone`.

    `span` fixes the axis length so the timelines of several targets line up (default:
    `schedule_span([schedule])`). A standalone drawing carries its title as a heading line.
    """
    span = span or schedule_span([schedule])
    heading = _HEADING if standalone else 0
    width = _LEFT + _PLOT + _RIGHT
    height = heading + _LABELS + _TRACK + _AXIS
    top = heading + _LABELS
    middle = top + _TRACK / 2
    bottom = top + _TRACK

    def x(seconds: float) -> float:
        return _LEFT + _PLOT * max(0.0, min(seconds, span)) / span

    title = (
        f"retry schedule of {schedule.target} {schedule.version} ({schedule.variant}, "
        f"{cells.method_text(schedule)}): {len(schedule.attempts)} attempts"
    )
    parts = [
        f'<svg class="timeline schedule-timeline" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="11" data-target="{_e(schedule.target)}" '
        f'data-attempts="{len(schedule.attempts)}">',
        f"<title>{_e(title)}</title>",
    ]
    if standalone:
        parts.append(
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>'
            f'<text x="{_LEFT}" y="16" font-size="13" fill="#202124">{_e(title)}</text>'
        )
    for day in range(int(span // DAY) + 1):
        left = x(day * DAY)
        parts.append(
            f'<line class="sc-day" x1="{left:.1f}" y1="{top - 4}" x2="{left:.1f}" '
            f'y2="{bottom}" stroke="{_GRID}"/>'
            f'<text class="sc-day-label" x="{left:.1f}" y="{bottom + 14}" text-anchor="middle" '
            f'fill="{_MUTED}">{day}d</text>'
        )
    parts.append(
        f'<line class="sc-axis" x1="{_LEFT}" y1="{bottom}" x2="{_LEFT + _PLOT}" y2="{bottom}" '
        'stroke="#80868b"/>'
    )
    if schedule.observed_for > 0:
        parts.append(
            f'<rect class="sc-observed" x="{_LEFT}" y="{middle - 2}" '
            f'width="{x(schedule.observed_for) - _LEFT:.1f}" height="4" fill="{_OBSERVED}">'
            f"<title>observed for {_e(format_duration(schedule.observed_for))}</title></rect>"
        )
    for number, t in enumerate(schedule.attempts, start=1):
        parts.append(
            f'<line class="sc-attempt" x1="{x(t):.1f}" y1="{middle - 9}" x2="{x(t):.1f}" '
            f'y2="{middle + 9}" stroke="{ATTEMPT_COLOUR}" stroke-width="1.5">'
            f"<title>attempt {number} at {_when(t)}</title></line>"
        )
    if schedule.warning is not None:
        w = x(schedule.warning)
        parts.append(
            f'<g class="sc-warning" fill="{WARNING_COLOUR}">'
            f"<title>delay warning (DSN) at {_when(schedule.warning)}</title>"
            f'<path d="M{w - 5:.1f},{middle - 14}h10l-5,8z"/>'
            f'<text x="{w:.1f}" y="{heading + 12}" text-anchor="{_anchor(w)}">'
            f"warning {_e(cells.schedule_time(schedule, schedule.warning))}</text></g>"
        )
    if schedule.give_up is not None:
        g = x(schedule.give_up)
        parts.append(
            f'<g class="sc-giveup" stroke="{GIVE_UP_COLOUR}" fill="{GIVE_UP_COLOUR}">'
            f"<title>gave up (bounced) at {_when(schedule.give_up)}</title>"
            f'<path d="M{g - 5:.1f},{middle - 5}l10,10m0,-10l-10,10" stroke-width="2.5"/>'
            f'<text x="{g:.1f}" y="{heading + 25}" stroke="none" text-anchor="{_anchor(g)}">'
            f"bounce {_e(cells.schedule_time(schedule, schedule.give_up))}</text></g>"
        )
    parts.append(
        f'<text class="sc-caption" x="{_LEFT + _PLOT}" y="{bottom + 32}" text-anchor="end" '
        f'fill="{_MUTED}">real time since injection (linear, days); ticks: attempts, '
        "triangle: delay warning, cross: give-up (bounce)</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _anchor(left: float) -> str:
    """Labels near either end of the axis grow inwards, so they stay in the drawing."""
    if left < _LEFT + 60:
        return "start"
    return "end" if left > _LEFT + _PLOT - 60 else "middle"


def _when(seconds: float) -> str:
    return f"+{format_duration(seconds)} ({seconds:.0f} s)"


def _e(text: str) -> str:
    return escape(printable(text), quote=True)


def schedules_svg(
    schedules: Sequence[Schedule], *, title: str, labels: Sequence[str] | None = None
) -> str:
    """Several schedules as one standalone SVG document: one timeline per schedule, stacked in
    the order given, on one shared axis so their shapes compare (`schedule.svg`); `labels`
    names them (default: target, version, variant and compression)."""
    span = schedule_span(schedules)
    width = _LEFT + _PLOT + _RIGHT
    row = _LABELS + _TRACK + _AXIS
    height = _HEADING + row * max(1, len(schedules))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{_e(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{_LEFT}" y="16" font-size="13" fill="#202124">{_e(title)}</text>',
    ]
    for index, schedule in enumerate(schedules):
        top = _HEADING + index * row
        name = (
            labels[index]
            if labels is not None
            else f"{schedule.target} {schedule.version} {schedule.variant} {schedule.label}"
        )
        label = f"{name}: {len(schedule.attempts)} attempts"
        parts.append(
            f'<text x="{_LEFT}" y="{top + 12}" font-weight="bold" fill="#202124">{_e(label)}</text>'
        )
        # Nested, each timeline keeps its own coordinates; the labels row starts below the name.
        inner = schedule_timeline_svg(schedule, span=span)
        parts.append(inner.replace("<svg ", f'<svg x="0" y="{top + 4}" ', 1))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
