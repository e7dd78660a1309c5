"""Compressing an MTA's clock by shrinking its own time parameters, and saying what that costs.

A target divides each schedule or timeout parameter's default by the run's time scale k, so the
*shape* of its default behaviour is kept while days pass in minutes. Measured times are then
multiplied back by k. Where a parameter cannot take the exact value (whole seconds only, a
minimum, a hard-coded constant) the target records the value it really got, and the report shows
the distortion instead of hiding it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.results import ScaledParameter

#: Seconds per unit of an MTA time setting (Postfix's `300s`, Exim's `4d`, Sendmail's `10m`).
MTA_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def scale_whole_seconds(
    name: str,
    default_seconds: float,
    time_scale: float,
    *,
    minimum: float = 1.0,
    why_minimum: str = "",
    early_seconds: float = 0.0,
    why_early: str = "",
) -> ScaledParameter:
    """Scale a parameter that takes whole seconds with a lower bound (most MTA settings).

    `why_minimum` says why the bound is above what the MTA itself accepts, when it is;
    `early_seconds` is how much sooner than configured the MTA acts on it, on average, and
    `why_early` the reason (see `ScaledParameter.early_seconds`).
    """
    if default_seconds == 0:
        return ScaledParameter(name, 0, 0, time_scale)  # 0 means "off": keep it off
    wanted = default_seconds / time_scale
    configured = max(minimum, float(round(wanted)))
    note = ""
    if configured != wanted:
        reason = (
            f"at least {minimum:g}s" + (f": {why_minimum}" if why_minimum else "")
            if configured == minimum and wanted < minimum
            else "whole seconds"
        )
        note = f"wanted {wanted:.3g}s, {reason}"
    if early_seconds and time_scale != 1:
        early = f"acts {early_seconds:g}s early on average: {why_early}".rstrip(": ")
        note = f"{note}; {early}" if note else early
    return ScaledParameter(name, default_seconds, configured, time_scale, note, early_seconds)


@dataclass(frozen=True)
class TimeScaling:
    """The time scale applied to one target, parameter by parameter."""

    time_scale: float
    parameters: tuple[ScaledParameter, ...]

    def get(self, name: str) -> ScaledParameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    def distorted(self, tolerance: float = 0.05) -> list[ScaledParameter]:
        """Parameters whose effective real value is off their default by more than `tolerance`."""
        return [p for p in self.parameters if abs(p.distortion - 1.0) > tolerance]

    def describe(self) -> list[str]:
        lines = []
        for p in self.parameters:
            state = "exact" if p.exact else f"x{p.distortion:.3g} ({p.note})"
            scaled = f"{p.default_seconds:g}s -> {p.configured_seconds:g}s wall"
            lines.append(f"{p.name}: default {scaled}, {state}")
        return lines
