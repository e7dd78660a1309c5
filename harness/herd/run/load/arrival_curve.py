"""Which arrival curve a Locust run replays, from its `--herd-curve` option.

The curve model (classes, points, stages, pacing) is pure Python in `harness.herd.run.curve`,
shared with `mailstorm herd run` so that a bad curve is refused before anything starts; this
module is the load side's entry to it:

- `demo` (the default): a small two-class herd reopened in two stages.
- `flat-out:N:SLOTS`: N messages all due at once over SLOTS connection slots (the benchmark).
- `constant:RATE:SECONDS[:SLOTS]`: one class offering RATE msgs/s for SECONDS.
- anything else: a JSON file, an arrival curve (docs/herd-run.md) or a `herd-model.json`.
"""

from __future__ import annotations

from harness.herd.run.curve import CURVE_OPTION_HELP, ArrivalCurve, curve_from_option

DEFAULT = "demo"

__all__ = ["CURVE_OPTION_HELP", "DEFAULT", "ArrivalCurve", "curve_from_option"]
