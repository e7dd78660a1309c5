"""Does compression keep the schedule? The same schedule at two time scales, metric by metric.

A target's scaled run is only a faithful model of its real schedule if the result does not
depend on the scale. Two scales are measured at once and compared once scaled back to real time.

Tolerance, per time metric: the larger of 10% of the larger value and one queue-scan interval
of the target's *default* configuration (Postfix `queue_run_delay` 5 min, Exim's queue runner
30 min on Debian). Why: a retry happens at the first queue scan after its backoff expired, so the
real MTA itself is uncertain by one scan; 10% covers the jitter of container scheduling and
process start-up, which is a few hundred milliseconds of wall time, i.e. minutes to hours of
real time at these scales. The tolerance is deliberately not one *scaled* scan or one wall second
of the coarser run: those are the distortion being looked for (at k = 1440 one whole second is
24 real minutes), and would hide it. Attempt counts may differ by one or by 10%.

A metric outside the tolerance is attributed to the target's scaled parameters whose distortion
differs between the two scales (a parameter distorted alike at both scales shifts both results
alike and cannot make them disagree), preferring the parameters that drive that metric.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.results import Agreement, Metric, ScaledParameter, Schedule

RELATIVE_TOLERANCE = 0.10
#: Parameter-name fragments that drive each metric (Postfix and Exim spellings).
_SCAN = ("queue_run_delay", "queue_interval")
_BACKOFF = ("backoff", "retry[", *_SCAN)
_DRIVERS: dict[str, tuple[str, ...]] = {
    "first_retry": _BACKOFF,
    "median_interval": _BACKOFF,
    "longest_interval": _BACKOFF,
    "warning": ("delay_warning", *_SCAN),
    "give_up": ("lifetime", "retry[", "retry_data_expire", "timeout_frozen", *_SCAN),
    "attempts": (*_BACKOFF, "lifetime"),
}


_METRICS: dict[str, Callable[[Schedule], float | None]] = {
    "first_retry": lambda s: s.first_retry,
    "median_interval": lambda s: s.median_interval,
    "longest_interval": lambda s: s.longest_interval,
    "warning": lambda s: s.warning,
    "give_up": lambda s: s.give_up,
}


def compare(a: Schedule, b: Schedule) -> Agreement:
    """Compare two scales' schedules of one target and variant."""
    if (a.target, a.variant) != (b.target, b.variant):
        raise ValueError(f"comparing {a.target}/{a.variant} with {b.target}/{b.variant}")
    fine, coarse = sorted((a, b), key=lambda s: (s.time_scale, s.method))
    quantum = default_scan_interval(coarse)
    metrics = []
    for name, read in _METRICS.items():
        values = (read(fine), read(coarse))
        larger = max((v for v in values if v is not None), default=0.0)
        tolerance = max(RELATIVE_TOLERANCE * larger, quantum)
        metrics.append(_metric(name, values, tolerance, fine, coarse))
    counts = (float(len(fine.attempts)), float(len(coarse.attempts)))
    count_tolerance = max(1.0, RELATIVE_TOLERANCE * max(counts))
    metrics.append(_metric("attempts", counts, count_tolerance, fine, coarse))
    scales = (fine.time_scale, coarse.time_scale)
    methods = (fine.method, coarse.method)
    return Agreement(fine.target, fine.variant, scales, tuple(metrics), methods)


def _metric(
    name: str,
    values: tuple[float | None, float | None],
    tolerance: float,
    fine: Schedule,
    coarse: Schedule,
) -> Metric:
    a, b = values
    # A metric absent at both scales (no warning either time) agrees; absent at one does not.
    agrees = (a is None and b is None) if a is None or b is None else abs(a - b) <= tolerance
    explained = () if agrees else explain(name, fine, coarse)
    return Metric(name, values, tolerance, agrees, explained)


def default_scan_interval(schedule: Schedule) -> float:
    """The unscaled queue-scan interval in real seconds; 0 when the target has none listed."""
    scans = [p.default_seconds for p in schedule.parameters if p.name in _SCAN]
    return max(scans, default=0.0)


def explain(metric: str, fine: Schedule, coarse: Schedule) -> tuple[str, ...]:
    """The parameters whose distortion differs between the scales, the metric's drivers first.

    Empty when no parameter differs: then the disagreement is not explained by the scaling.
    """
    coarse_by_name = {p.name: p for p in coarse.parameters}
    differing: list[tuple[ScaledParameter, ScaledParameter]] = [
        (p, coarse_by_name[p.name])
        for p in fine.parameters
        if p.name in coarse_by_name
        and abs(p.distortion - coarse_by_name[p.name].distortion) > 0.01 * max(1.0, p.distortion)
    ]
    # A blackholed attempt lasts until a session timeout, which adds to every interval.
    names = _DRIVERS[metric] + (("timeout",) if fine.variant == "blackhole" else ())
    drivers = [pair for pair in differing if any(part in pair[0].name for part in names)]
    return tuple(
        f"{p.name} x{p.distortion:.3g} at k={fine.time_scale:g} vs "
        f"x{q.distortion:.3g} at k={coarse.time_scale:g}"
        for p, q in (drivers or differing)
    )
