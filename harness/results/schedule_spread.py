"""The spread of a schedule measured more than once: each quantity's smallest and largest value.

One measurement is one draw. Where a value depends on a phase the configuration leaves open (a
first retry at the next queue run after 15 minutes falls anywhere in 15-45 minutes; a deferred
file waits for the next queue scan), a second run lands elsewhere in that window, so a report
of one draw would present the phase as the MTA's behaviour. `mailstorm schedule --repeat N`
(and the main job) run the same (target, variant, compression) N times, one run after another
in fresh containers, and report min-max here beside the window the configuration implies.

A spread is derived from the measurements, never stored on its own: `schedule.json` keeps
every run's schedule, and `matrix.json` keeps each target's spread beside the schedule shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.results.case import Outcome
from harness.results.schedule import MeasuredSchedule, Method, Schedule


@dataclass(frozen=True)
class Span:
    """One quantity over the runs that had it: its smallest and largest value."""

    low: float
    high: float
    of_runs: int  #: how many runs had a value (a run without a warning DSN has none)


#: The quantities a spread covers, in report order, and how each is read off a schedule.
SPREAD_QUANTITIES: tuple[tuple[str, Callable[[Schedule], float | None]], ...] = (
    ("attempts", lambda s: float(len(s.attempts))),
    ("first_retry", lambda s: s.first_retry),
    ("median_interval", lambda s: s.median_interval),
    ("longest_interval", lambda s: s.longest_interval),
    ("warning", lambda s: s.warning),
    ("give_up", lambda s: s.give_up),
)


@dataclass(frozen=True)
class ScheduleSpread:
    """One (target, variant, compression) over `runs` runs: each quantity's min-max."""

    target: str
    version: str
    variant: str
    method: Method
    time_scale: float
    runs: int  #: measured runs (runs that ended in a harness error are not among them)
    #: (quantity, its span or None when no run had it), in `SPREAD_QUANTITIES` order
    spans: tuple[tuple[str, Span | None], ...]
    #: the largest ± of the runs: it bounds every run's times
    time_uncertainty: float | None
    #: what the configuration allows for the first retry, whatever the phase (the same in
    #: every run of one compression)
    first_retry_window: tuple[float, float] | None
    #: each check's outcome in every run, in run order, checks in the schedule's order
    outcomes: tuple[tuple[str, tuple[Outcome, ...]], ...] = ()
    failed_runs: int = 0  #: runs that ended in a harness error

    def span(self, quantity: str) -> Span | None:
        """The span of one of `SPREAD_QUANTITIES`; None when no run had the quantity."""
        return dict(self.spans).get(quantity)

    @property
    def outcomes_agree(self) -> bool:
        """Whether every check came out the same in every run."""
        return all(len(set(outcomes)) <= 1 for _, outcomes in self.outcomes)


def schedule_spreads(measured: Iterable[MeasuredSchedule]) -> tuple[ScheduleSpread, ...]:
    """The spread of every (target, variant, compression) measured in at least two runs (runs
    that ended in a harness error do not count), in the order the measurements first appear."""
    groups: dict[tuple[str, str, Method, float], list[MeasuredSchedule]] = {}
    for m in measured:
        groups.setdefault((m.target, m.variant, m.method, m.time_scale), []).append(m)
    spreads = []
    for (target, variant, method, time_scale), runs in groups.items():
        runs.sort(key=lambda m: m.repeat)
        schedules = [m.schedule for m in runs if m.schedule is not None]
        if len(schedules) < 2:
            continue  # one draw has no spread; a failed run is an error in every report
        uncertainties = [s.time_uncertainty for s in schedules if s.time_uncertainty is not None]
        spreads.append(
            ScheduleSpread(
                target=target,
                version=schedules[0].version,
                variant=variant,
                method=method,
                time_scale=time_scale,
                runs=len(schedules),
                spans=tuple(
                    (name, _span([read(s) for s in schedules])) for name, read in SPREAD_QUANTITIES
                ),
                time_uncertainty=max(uncertainties, default=None),
                first_retry_window=schedules[0].first_retry_window,
                outcomes=_outcomes(schedules),
                failed_runs=len(runs) - len(schedules),
            )
        )
    return tuple(spreads)


def _span(values: list[float | None]) -> Span | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return Span(min(present), max(present), len(present))


def _outcomes(schedules: list[Schedule]) -> tuple[tuple[str, tuple[Outcome, ...]], ...]:
    """Each check's outcomes over the runs, named by its id (`retry-delayed`), checks in the
    order of the first run."""
    per_check: dict[str, list[Outcome]] = {}
    for schedule in schedules:
        for check in schedule.checks:
            name = str(check.measured.get("check", f"{check.clause} {check.level.value}"))
            per_check.setdefault(name, []).append(check.outcome)
    return tuple((name, tuple(outcomes)) for name, outcomes in per_check.items())
