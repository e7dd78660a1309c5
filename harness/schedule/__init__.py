"""Retry schedules: when an MTA retries a failing destination, warns and gives up, in real time,
measured at two time scales to show whether compression kept the schedule.

The types (`Schedule`, `MeasuredSchedule`, `Agreement`) are in `harness.results`."""

from harness.schedule.agreement import compare
from harness.schedule.derive import derive_schedule
from harness.schedule.runner import (
    DEFAULT_TIME_SCALES,
    ScheduleRun,
    agreements,
    run_schedules,
)
from harness.schedule.variants import Variant, scenario_for

__all__ = [
    "DEFAULT_TIME_SCALES",
    "ScheduleRun",
    "Variant",
    "agreements",
    "compare",
    "derive_schedule",
    "run_schedules",
    "scenario_for",
]
