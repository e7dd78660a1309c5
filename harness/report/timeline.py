"""The retry timeline: every attempt of every scenario of one target, on one time axis, as SVG.

Retry schedules span seconds to days (a greylist retry after 5 minutes, a give-up after 5 days),
so a linear axis would crush everything before the first day into one pixel. The axis is
logarithmic in minutes, x ~ log(1 + t / 60 s): 0 stays at the origin, 1 minute, 1 hour and 1
day are spread apart, and the last days still get room. It covers 0 to 5 real days, or up to
the latest event when a case went further (an outage of 120 h), rounded up to whole days.

Marks: a tick per attempt coloured by the class of the receiver's reply (2xx, 4xx, 5xx, none),
a diamond where the DSN came back, a cross where a recipient bounced, and a pale band for the
time the case was observed. Each mark has a `<title>`, shown by browsers as a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from harness.durations import format_duration
from harness.report._text import printable
from harness.results import Attempt, CaseResult, Fate

DAY = 86400.0
#: The axis always covers at least this much real time: Postfix gives up after 5 days.
MINIMUM_SPAN = 5 * DAY
_TICKS = (0.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0)
_ROW_HEIGHT = 22
_MIN_TICK_GAP = 24
_TOP = 26
_BOTTOM = 34


@dataclass(frozen=True)
class Layout:
    """Pixel widths: the scenario labels on the left, then the plot."""

    label_width: int = 250
    plot_width: int = 720


#: The per-target plot: room for the longest catalogue ids on the left.
WIDE = Layout()
#: One case's strip in the evidence panel: no labels, the plot is the row.
STRIP = Layout(label_width=8, plot_width=560)


def reply_class(reply: str | None) -> str:
    """`2xx`, `4xx`, `5xx`, `none` (no reply: a drop or a stall) or `other` for an attempt."""
    if reply is None:
        return "none"
    first = reply.strip()[:1]
    return f"{first}xx" if first in {"2", "4", "5"} else "other"


def time_axis(span: float, width: float) -> Callable[[float], float]:
    """Real seconds -> x pixels in 0..width: log(1 + t/60) scaled so `span` is the right end."""
    end = math.log1p(span / 60.0)

    def x(seconds: float) -> float:
        return width * math.log1p(max(0.0, min(seconds, span)) / 60.0) / end

    return x


def span_for(cases: Sequence[CaseResult]) -> float:
    """The axis length: 5 days, or the latest event rounded up to whole days when later."""
    latest = max((t for case in cases for t in _event_times(case)), default=0.0)
    return max(MINIMUM_SPAN, math.ceil(latest / DAY) * DAY)


def timeline_svg(
    cases: Sequence[CaseResult],
    *,
    title: str,
    link: Callable[[CaseResult], str] | None = None,
    span: float | None = None,
    layout: Layout = WIDE,
) -> str:
    """An inline `<svg>` with one row per case, labelled with its scenario.

    `link(case)` gives each label's href (the cell's evidence); `span` fixes the axis length so
    several plots line up (default: `span_for(cases)`); `layout` sets the widths.
    """
    span = span or span_for(cases)
    x = time_axis(span, layout.plot_width)
    height = _TOP + _ROW_HEIGHT * max(1, len(cases)) + _BOTTOM
    width = layout.label_width + layout.plot_width + 20
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{_e(title)}</title>",
    ]
    # Backgrounds first, then the grid lines over them, then the marks over everything.
    for row in range(len(cases)):
        top = _TOP + row * _ROW_HEIGHT
        parts.append(
            f'<rect class="tl-row{row % 2}" x="0" y="{top}" width="{width}" '
            f'height="{_ROW_HEIGHT}"/>'
        )
    parts.extend(_axis(x, span, height, layout))
    for row, case in enumerate(cases):
        parts.extend(_row(case, row, x, link, layout))
    if not cases:
        parts.append(
            f'<text x="{layout.label_width}" y="{_TOP + 15}" class="tl-empty">no cases</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def timeline_legend() -> str:
    """A `<p>` explaining the marks, drawn with the same classes as the plot."""
    tick = '<line class="tl-attempt tl-{}" x1="5" y1="0" x2="5" y2="14"/>'
    marks = [
        (10, tick.format("2xx"), "attempt, reply 2xx"),
        (10, tick.format("4xx"), "4xx"),
        (10, tick.format("5xx"), "5xx"),
        (10, tick.format("none"), "no reply"),
        (12, '<path class="tl-dsn" d="M6,0l5,7l-5,7l-5,-7z"/>', "DSN came back"),
        (12, '<path class="tl-bounce" d="M2,3l8,8m0,-8l-8,8"/>', "recipient bounced"),
        (16, '<rect class="tl-observed" x="0" y="4" width="16" height="6"/>', "observed"),
    ]
    items = "".join(
        f'<span><svg width="{width}" height="14" aria-hidden="true">{mark}</svg> {label}</span>'
        for width, mark, label in marks
    )
    return f'<p class="tl-legend">{items}</p>'


def _event_times(case: CaseResult) -> list[float]:
    times = [attempt.t for attempt in case.attempts]
    if case.dsn is not None:
        times.append(case.dsn.t)
    times.extend(r.settled_t for r in case.recipients if r.settled_t is not None)
    times.append(case.observed_for)
    return times


def _axis(x: Callable[[float], float], span: float, height: int, layout: Layout) -> list[str]:
    bottom = height - _BOTTOM
    ticks = [*_TICKS, *(DAY * day for day in range(1, int(span // DAY) + 1))]
    parts = [
        f'<line class="tl-axis" x1="{layout.label_width}" y1="{bottom}" '
        f'x2="{layout.label_width + layout.plot_width}" y2="{bottom}"/>'
    ]
    for tick in _spaced(ticks, x):
        left = layout.label_width + x(tick)
        label = "0" if tick == 0 else format_duration(tick)
        parts.append(
            f'<line class="tl-grid" x1="{left:.1f}" y1="{_TOP - 6}" x2="{left:.1f}" y2="{bottom}"/>'
            f'<text class="tl-tick" x="{left:.1f}" y="{bottom + 14}">{label}</text>'
        )
    parts.append(
        f'<text class="tl-caption" x="{layout.label_width + layout.plot_width}" y="{bottom + 29}">'
        "real time since injection (log scale)</text>"
    )
    return parts


def _spaced(ticks: list[float], x: Callable[[float], float]) -> list[float]:
    """The ticks whose labels do not collide (24 px apart); the last one always stays."""
    kept: list[float] = []
    for tick in ticks:
        if kept and x(tick) - x(kept[-1]) < _MIN_TICK_GAP:
            if tick != ticks[-1]:
                continue
            kept.pop()
        kept.append(tick)
    return kept


def _row(
    case: CaseResult,
    row: int,
    x: Callable[[float], float],
    link: Callable[[CaseResult], str] | None,
    layout: Layout,
) -> list[str]:
    middle = _TOP + row * _ROW_HEIGHT + _ROW_HEIGHT / 2
    label = (
        f'<text class="tl-label" x="{layout.label_width - 8}" y="{middle + 4:.1f}">'
        f"{_e(case.scenario)}</text>"
    )
    if link is not None:
        label = f'<a href="{_e(link(case))}">{label}</a>'
    parts = [label]
    unmeasured = case.not_applicable or case.error
    if unmeasured:
        said = "not applicable" if case.not_applicable else "harness error: not measured"
        parts.append(
            f'<text class="tl-error" x="{layout.label_width + 6}" y="{middle + 4:.1f}">'
            f"{said}<title>{_e(unmeasured)}</title></text>"
        )
        return parts
    if case.observed_for > 0:
        parts.append(
            f'<rect class="tl-observed" x="{layout.label_width}" y="{middle - 3:.1f}" '
            f'width="{x(case.observed_for):.1f}" height="6">'
            f"<title>observed for {_e(format_duration(case.observed_for))}</title></rect>"
        )
    for number, attempt in enumerate(case.attempts, start=1):
        parts.append(
            _attempt_tick(case, number, attempt, layout.label_width + x(attempt.t), middle)
        )
    for recipient in case.recipients:
        if recipient.fate == Fate.BOUNCED and recipient.settled_t is not None:
            left = layout.label_width + x(recipient.settled_t)
            parts.append(
                f'<path class="tl-bounce" d="M{left - 4:.1f},{middle - 4:.1f}l8,8m0,-8l-8,8">'
                f"<title>{_e(recipient.recipient)} bounced at {_when(recipient.settled_t)}</title>"
                "</path>"
            )
    if case.dsn is not None:
        left = layout.label_width + x(case.dsn.t)
        parts.append(
            f'<path class="tl-dsn" d="M{left:.1f},{middle - 7:.1f}l5,7l-5,7l-5,-7z">'
            f"<title>DSN {_e(case.dsn.action)} {_e(case.dsn.status)} at {_when(case.dsn.t)}"
            "</title></path>"
        )
    return parts


def _attempt_tick(
    case: CaseResult, number: int, attempt: Attempt, left: float, middle: float
) -> str:
    reply = attempt.reply if attempt.reply is not None else "no reply"
    return (
        f'<line class="tl-attempt tl-{reply_class(attempt.reply)}" x1="{left:.1f}" '
        f'y1="{middle - 7:.1f}" x2="{left:.1f}" y2="{middle + 7:.1f}">'
        f"<title>{_e(case.scenario)} attempt {number} at {_when(attempt.t)}: "
        f"{_e(attempt.stage)} {_e(reply)}</title></line>"
    )


def _when(seconds: float) -> str:
    return f"+{format_duration(seconds)} ({seconds:g} s)"


def _e(text: str) -> str:
    return escape(printable(text), quote=True)
