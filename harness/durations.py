"""Durations as users write them in plans and on the command line ("90s", "5m", "72h", "4d").

Plans are written in *real MTA time*; the receiver divides by the run's time scale, so parsing
lives apart from scaling.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str | int | float) -> float:
    """Return seconds for `text`: a number (seconds) or a number with unit ms/s/m/h/d.

    Raises ValueError with the accepted forms when the text is not a duration.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 5m, 72h, 4d)")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative; durations are >= 0")
        return float(text)
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 5m, 72h, 4d)")
    number, unit = match.groups()
    return float(number) * _UNITS[unit or "s"]


def format_duration(seconds: float) -> str:
    """Render seconds compactly for reports and messages: 90 -> '1m30s', 259200 -> '3d'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    remaining = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
