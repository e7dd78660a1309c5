"""The load shape: connection slots over time from the arrival curve, and when to stop.

Each tick (once a second, on the master or the single local process) maps wall time w to real
time w x F (the time factor) and asks the curve for its slots: each sender class opens its
concurrency in proportion to its current rate over its peak (at least one slot while the curve
runs), every slot once the curve is over (the backlog drains). `--herd-max-users` caps it.

The run stops by itself, whichever comes first: every message settled after the curve's end
(every worker says so in distributed mode), Locust's `--run-time`, or the curve's end plus
`--herd-drain` seconds. New messages are capped by `--herd-max-messages`.
"""

from __future__ import annotations

from locust import LoadTestShape

from harness.herd.run.load.herd_runtime import runtime_of


class HerdShape(LoadTestShape):
    use_common_options = True  # it reads --run-time itself

    def tick(self) -> tuple[int, float] | None:
        runner = self.runner
        assert runner is not None
        runtime = runtime_of(runner.environment)
        wall = self.get_run_time()
        settings = runtime.settings
        options = runner.environment.parsed_options
        run_time = getattr(options, "run_time", None) or float("inf")
        limit = min(run_time, runtime.curve.end / settings.time_factor + settings.drain)
        reason = ""
        if runtime.error is not None:
            reason = runtime.error
        elif runtime.all_done():
            reason = "every message settled"
        elif wall >= limit:
            reason = "run time limit" if run_time <= limit else "drain time limit"
        if reason:
            runtime.stop_reason = reason
            return None
        users = min(settings.max_users, runtime.curve.slots(wall * settings.time_factor))
        runtime.shape_ticks.append({"wall": round(wall, 3), "users": users})
        # Spawn within a fraction of a second: a slot that starts late is load not offered.
        return users, float(max(100, 10 * users))
