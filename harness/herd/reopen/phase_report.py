"""The reopen report's section on phase and bunching per MTA (harness.herd.reopen.phase)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.durations import format_duration
from harness.herd.reopen.phase import MtaPhase


def phase_json(phases: Sequence[MtaPhase]) -> list[dict[str, Any]]:
    return [
        {
            "mta": p.mta,
            "containers": p.containers,
            "outage_sessions_per_container": list(p.outage_sessions),
            "ready_spread_seconds": _round(p.ready_spread),
            "first_delivery_seconds": _pair(p.first),
            "last_delivery_seconds": _pair(p.last),
            "model_scan_interval_seconds": p.scan_interval,
            "model_anchor": p.anchor,
            "busiest_bin_share": _round(p.busiest_share),
            "model_busiest_bin_share": _round(p.model_busiest_share),
        }
        for p in phases
    ]


def phase_markdown(
    policies: Sequence[tuple[str, Sequence[MtaPhase]]], bin_seconds: float
) -> list[str]:
    rows = [(policy, p) for policy, phases in policies for p in phases]
    if not rows:
        return []
    return [
        "## Phase and bunching per MTA (where the model parts from the measurement)",
        "",
        "| policy | MTA | containers | their starts spread over (real) | sessions per container "
        "in the outage | first delivery after reopening (earliest - latest container) | last "
        "delivery | model: queue scan, retry state | share of deliveries in the busiest "
        f"{format_duration(bin_seconds)} | model's share |",
        "|---|---|---:|---|---|---|---|---|---:|---:|",
        *(
            f"| {policy} | {p.mta} | {p.containers} | {_duration(p.ready_spread)} | "
            f"{p.outage_sessions[0]}-{p.outage_sessions[1]} | {_span(p.first)} | "
            f"{_span(p.last)} | {_scan(p)} | {_share(p.busiest_share)} | "
            f"{_share(p.model_busiest_share)} |"
            for policy, p in rows
        ),
        "",
        "- The model spreads a retry due at T over [T, T + queue scan) as if every sender's "
        "clock were unrelated; a first-delivery window much narrower than the scan means the "
        "containers' queue runners ran in phase. Their phases are set by when each container's "
        "MTA started (a queue runner ticks from its daemon's start): starts spread over less "
        "than one scan put them in phase, which is the harness's doing, not the MTA's.",
        "- *Per destination*: a sender that tries its whole queue at each queue run "
        "(Sendmail), or keeps one retry state per host (Exim after a host error; a 4xx to RCPT "
        "is kept per address), sends all its queued mail in one run: a busiest-bin share near "
        "100% is that burst; the model keeps it too, but spreads it over the scan.",
        "",
    ]


def _span(pair: tuple[float, float] | None) -> str:
    if pair is None:
        return "-"
    low, high = (format_duration(v) if v >= 1 else "0" for v in pair)
    return low if low == high else f"{low} - {high}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return format_duration(seconds) if seconds >= 1 else "0"


def _scan(p: MtaPhase) -> str:
    if p.scan_interval is None:
        return "-"
    scan = format_duration(p.scan_interval) if p.scan_interval else "none"
    return f"{scan}, per {p.anchor}"


def _share(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _pair(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [round(pair[0], 1), round(pair[1], 1)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
