"""`herd-model.json`: the model's prediction for tools (format: docs/herd-model.md).

Besides the totals and curves, it carries `arrival_curve` in the format of
`harness.herd.run.curve` (`mailstorm-arrival-curve/1`), so a Locust load shape can replay the
predicted herd without knowing the model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.herd.model.prediction import HerdPrediction

FORMAT = "mailstorm-herd-model/1"
ARRIVAL_FORMAT = "mailstorm-arrival-curve/1"


def _r(value: float) -> float:
    return round(value, 3)


def prediction_to_json(prediction: HerdPrediction) -> dict[str, Any]:
    """Everything the model predicted, rates in messages/s, times in seconds, counts in
    messages (fractions kept: it is a fluid model)."""
    scenario = prediction.scenario
    senders = scenario.senders
    return {
        "format": FORMAT,
        "input": {
            "outage": scenario.outage,
            "rate": scenario.rate,
            "capacity": None if math.isinf(prediction.capacity) else prediction.capacity,
            "max_sessions": scenario.max_sessions,
            "session_seconds": scenario.session_seconds,
            "step": scenario.step,
            "age_resolution": scenario.age_resolution,
        },
        "senders": [
            {
                "name": s.name,
                "share": s.share,
                "attempt_offsets": [_r(t) for t in s.attempt_offsets()],
                "give_up": s.give_up,
                "warning": s.warning,
                "concurrency": s.concurrency,
                "hosts": s.hosts,
                "scan_interval": s.scan_interval,
                "anchor": s.anchor,
                "rcpt_anchor": s.rcpt_anchor,
                "source": s.source,
            }
            for s in senders
        ],
        "summary": {
            "backlog_at_reopening": _by_class(prediction.backlog_at_reopening),
            "bounced_during_outage": _by_class(prediction.bounced_during_outage),
            "warned_during_outage": _by_class(prediction.warned_during_outage),
            "bounced_after_reopening": _by_class(prediction.bounced_after_reopening),
            "peak_offered_rate": _r(prediction.peak_offered_rate),
            "peak_time": prediction.peak_time,
            "drain_time": prediction.drain_time,
        },
        "assumptions": list(prediction.assumptions),
        "outage": [
            {"t": p.t, "backlog": _by_class(p.backlog), "bounced": _by_class(p.bounced)}
            for p in prediction.outage_curve
        ],
        "after_reopening": [
            {
                "t": p.t,
                "offered": _by_class(p.offered),
                "accepted": _by_class(p.accepted),
                "deferred": _by_class(p.deferred),
                "backlog": _by_class(p.backlog),
            }
            for p in prediction.steps
        ],
        "arrival_curve": {
            "format": ARRIVAL_FORMAT,
            "description": (
                f"mailstorm herd model: {scenario.outage / 3600:g} h outage, "
                f"{scenario.rate:g} msgs/s normal inbound"
            ),
            "classes": [
                {
                    "name": s.name,
                    "retry_offsets": [_r(t) for t in s.attempt_offsets()],
                    "give_up": s.give_up,
                    "concurrency": s.concurrency,
                    "share": s.share,
                }
                for s in senders
            ],
            "points": [
                {"t": point.t, "rates": _by_class(point.rates)}
                for point in prediction.arrival_curve
            ],
        },
    }


def _by_class(values: dict[str, float]) -> dict[str, float]:
    return {name: _r(value) for name, value in values.items()}
