"""The schedules drawn: a row per (target, variant, compression), attempts as ticks on a line.

Linear, unlike the matrix's log timeline: here the point is the schedule's shape (intervals
growing to a cap, a give-up at day 5), which a log axis would bend. The axis spans 0 to 5 days,
or to the latest give-up when later. A warning DSN is a triangle, the give-up a cross.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from harness.durations import format_duration
from harness.schedule.model import Schedule

DAY = 86400.0
MINIMUM_SPAN = 5 * DAY
_LABEL, _PLOT, _ROW, _TOP, _BOTTOM = 230, 720, 24, 28, 36
_STYLE = (
    "text{font:11px sans-serif}.axis{stroke:#444}.grid{stroke:#ddd}"
    ".attempt{stroke:#c60;stroke-width:1.2}.warning{fill:#06c}.giveup{stroke:#c00;stroke-width:2}"
    ".observed{fill:#eee}.r0{fill:#fff}.r1{fill:#f4f4f4}"
)


def schedule_svg(schedules: Sequence[Schedule], *, title: str) -> str:
    """A standalone SVG document of the schedules, in the order given."""
    latest = max((s.give_up or 0.0 for s in schedules), default=0.0)
    span = max(MINIMUM_SPAN, math.ceil(latest / DAY) * DAY)
    height = _TOP + _ROW * max(1, len(schedules)) + _BOTTOM
    width = _LABEL + _PLOT + 20

    def x(t: float) -> float:
        return _LABEL + _PLOT * min(max(t, 0.0), span) / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title><style>{_STYLE}</style>',
        f'<text x="{_LABEL}" y="16">{escape(title)}</text>',
    ]
    bottom = height - _BOTTOM
    for row, schedule in enumerate(schedules):
        top = _TOP + row * _ROW
        middle = top + _ROW / 2
        compression = "warp x" if schedule.method == "clock-warp" else "k="
        label = f"{schedule.target} {schedule.variant} {compression}{schedule.time_scale:g}"
        parts.append(f'<rect class="r{row % 2}" x="0" y="{top}" width="{width}" height="{_ROW}"/>')
        parts.append(f'<text x="{_LABEL - 8}" y="{middle + 4}" text-anchor="end">{label}</text>')
        observed = x(schedule.observed_for) - _LABEL
        parts.append(
            f'<rect class="observed" x="{_LABEL}" y="{middle - 2}" width="{observed:.1f}" '
            'height="4"/>'
        )
        for number, t in enumerate(schedule.attempts, start=1):
            parts.append(
                f'<line class="attempt" x1="{x(t):.1f}" y1="{middle - 7}" x2="{x(t):.1f}" '
                f'y2="{middle + 7}"><title>attempt {number} at {_when(t)}</title></line>'
            )
        if schedule.warning is not None:
            w = x(schedule.warning)
            parts.append(
                f'<path class="warning" d="M{w:.1f},{middle - 9}l5,-0l-5,8l-5,-8z">'
                f"<title>delay warning at {_when(schedule.warning)}</title></path>"
            )
        if schedule.give_up is not None:
            g = x(schedule.give_up)
            parts.append(
                f'<path class="giveup" d="M{g - 5:.1f},{middle - 5}l10,10m0,-10l-10,10">'
                f"<title>gave up (bounced) at {_when(schedule.give_up)}</title></path>"
            )
    parts.append(f'<line class="axis" x1="{_LABEL}" y1="{bottom}" x2="{x(span)}" y2="{bottom}"/>')
    for day in range(int(span // DAY) + 1):
        left = x(day * DAY)
        parts.append(
            f'<line class="grid" x1="{left:.1f}" y1="{_TOP}" x2="{left:.1f}" y2="{bottom}"/>'
            f'<text x="{left:.1f}" y="{bottom + 14}" text-anchor="middle">{day}d</text>'
        )
    parts.append(
        f'<text x="{_LABEL + _PLOT}" y="{bottom + 30}" text-anchor="end">real time since '
        "injection (linear); ticks: attempts, triangle: delay warning, cross: give-up</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _when(seconds: float) -> str:
    return f"+{format_duration(seconds)} ({seconds:.0f} s)"
