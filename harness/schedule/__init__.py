"""Retry schedules: when an MTA retries a failing destination, warns and gives up, in real time,
measured at two time scales to show whether compression kept the schedule."""

from harness.schedule.agreement import Agreement, Metric, compare
from harness.schedule.model import Schedule, derive_schedule
from harness.schedule.runner import (
    DEFAULT_TIME_SCALES,
    MeasuredSchedule,
    ScheduleResults,
    ScheduleRun,
    agreements,
    run_schedules,
)
from harness.schedule.variants import Variant, scenario_for

__all__ = [
    "DEFAULT_TIME_SCALES",
    "Agreement",
    "MeasuredSchedule",
    "Metric",
    "Schedule",
    "ScheduleResults",
    "ScheduleRun",
    "Variant",
    "agreements",
    "compare",
    "derive_schedule",
    "run_schedules",
    "scenario_for",
]
