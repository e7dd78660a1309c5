"""A retry schedule: when an MTA tried one undeliverable message, warned, and gave up.

One type for every place a schedule appears (`mailstorm schedule`, the matrix's target
section, the herd's sender classes): the attempts and DSN times in real MTA seconds since
injection, and what it was measured under (target, version, variant, how time was compressed,
the target's scaled parameters), because a schedule measured under compression means nothing
without how compressed it was. `MeasuredSchedule` is one measurement, or the harness error that
prevented it; `ScheduleResults` is a whole run with the comparisons of its time scales.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from enum import StrEnum

from harness.results.case import Check


class Method(StrEnum):
    """How a schedule's time was compressed."""

    SCALED_CONFIG = "scaled-config"  #: the MTA's time settings divided by k, rounded
    CLOCK_WARP = "clock-warp"  #: stock settings, the MTA's clock sped up k times (libfaketime)

    def label(self, time_scale: float) -> str:
        """`k=1440` for a scaled configuration, `warp x2880` for the stock one on a fast clock."""
        return f"warp x{time_scale:g}" if self is Method.CLOCK_WARP else f"k={time_scale:g}"


@dataclass(frozen=True)
class ScaledParameter:
    """One MTA time parameter: its default, what was configured, and what that is in real time.

    A target divides each parameter's default by the time scale k; where the MTA cannot take the
    exact value (whole seconds only, a minimum, a hard-coded constant) this records the value it
    really got, so the reports show the distortion instead of hiding it.
    """

    name: str
    default_seconds: float  #: the MTA's own default, in real seconds
    configured_seconds: float  #: what the MTA was given (wall seconds in the scaled run)
    time_scale: float
    note: str = ""  #: why it is not exact, when it is not
    #: wall seconds by which the MTA acts before the configured value, on average: its own
    #: whole-second truncation and comparison slack (Postfix's qmgr takes a deferred file back
    #: 1 to 2 s early), nothing at stock settings and k times that once scaled back
    early_seconds: float = 0.0

    @property
    def effective_real_seconds(self) -> float:
        """What the configured value amounts to once measured times are scaled back: what the
        MTA really waits (configured less its early slack), not the nominal value."""
        return max(0.0, self.configured_seconds - self.early_seconds) * self.time_scale

    @property
    def distortion(self) -> float:
        """Effective over default: 1.0 is exact, 1.2 means the scaled run is 20% slower."""
        if self.default_seconds == 0:
            return 1.0 if self.configured_seconds == 0 else float("inf")
        return self.effective_real_seconds / self.default_seconds

    @property
    def exact(self) -> bool:
        """Whether the compression kept this parameter's real value."""
        return abs(self.distortion - 1.0) < 1e-9


@dataclass(frozen=True)
class Schedule:
    """One message's retry schedule on one target, in real MTA seconds since injection."""

    target: str
    version: str  #: the MTA version the schedule was measured on
    variant: str  #: how the receiver failed: `4xx`, `blackhole`, `refused`
    time_scale: float  #: k, the compression the schedule was measured at
    attempts: tuple[float, ...]  #: the start of every attempt, sorted
    warning: float | None  #: when a `delayed` DSN came back; None if none did
    give_up: float | None  #: when the MTA gave up (a `failed` DSN, or the bounced fate)
    observed_for: float
    #: the target's scaled parameters, exact or not, as the time scale left them
    parameters: tuple[ScaledParameter, ...] = field(default=(), compare=False)
    method: Method = Method.SCALED_CONFIG
    #: RFC 5321 4.5.4.1: retry-delayed, 30-minute interval, 4 days
    checks: tuple[Check, ...] = ()
    #: ± real seconds on every time of this schedule: k times the MTA's whole-second slack
    #: under scaled configuration; under a clock warp, K times the wall-clock cost of one
    #: attempt measured in the run, plus the slack; None when it was not established
    time_uncertainty: float | None = None
    #: real seconds after a failure within which the MTA's configuration puts its first retry
    #: (earliest, latest), whatever phase its queue scans or runs were in; the measured first
    #: retry is one draw from it
    first_retry_window: tuple[float, float] | None = None

    @property
    def intervals(self) -> tuple[float, ...]:
        """The delay between each attempt and the next."""
        return tuple(b - a for a, b in itertools.pairwise(self.attempts))

    @property
    def first_retry(self) -> float | None:
        """Delay from the first attempt to the second: the MTA's first backoff."""
        return self.intervals[0] if self.intervals else None

    @property
    def median_interval(self) -> float | None:
        """The typical interval, robust to the first short ones and a last long one."""
        return statistics.median(self.intervals) if self.intervals else None

    @property
    def longest_interval(self) -> float | None:
        """The cap the backoff reached (Postfix `maximal_backoff_time`, Exim's last rule)."""
        return max(self.intervals) if self.intervals else None

    @property
    def distorted(self) -> tuple[ScaledParameter, ...]:
        """The parameters the compression did not keep exactly."""
        return tuple(p for p in self.parameters if not p.exact)

    @property
    def label(self) -> str:
        """How reports name the compression: `k=1440` or `warp x2880`."""
        return self.method.label(self.time_scale)


@dataclass(frozen=True)
class MeasuredSchedule:
    """One (target, variant, compression) measured: a schedule, or the error that prevented it."""

    schedule: Schedule | None
    target: str
    variant: str
    time_scale: float
    error: str | None = None
    method: Method = Method.SCALED_CONFIG
    #: attempts only the MTA's log shows (connections that failed before reaching the
    #: receiver: under a warp, its connect timeout is milliseconds of wall time)
    unseen_attempts: int = 0
    #: which run of a repeated measurement (`mailstorm schedule --repeat`), from 0: each run
    #: is the same case again in fresh containers, after the previous one
    repeat: int = 0

    @property
    def checks(self) -> tuple[Check, ...]:
        """The schedule's RFC checks; none when it could not be measured."""
        return self.schedule.checks if self.schedule is not None else ()


@dataclass(frozen=True)
class Metric:
    """One compared metric: both values (real seconds, or a count), and the verdict."""

    name: str
    values: tuple[float | None, float | None]  #: (finer k's, coarser k's)
    tolerance: float
    agrees: bool
    #: why they disagree: "<parameter> x<distortion at k1> vs x<distortion at k2>"
    explained_by: tuple[str, ...] = ()

    @property
    def difference(self) -> float | None:
        """The absolute difference; None when either side has no value."""
        a, b = self.values
        return None if a is None or b is None else abs(a - b)


@dataclass(frozen=True)
class Agreement:
    """One target and variant at two compressions: it agrees when every metric does."""

    target: str
    variant: str
    time_scales: tuple[float, float]  #: (finer, coarser): the smaller k first
    metrics: tuple[Metric, ...]
    #: how each side was compressed, in the order of `time_scales`
    methods: tuple[Method, Method] = (Method.SCALED_CONFIG, Method.SCALED_CONFIG)
    #: the run both sides come from: compressions are compared within one run
    repeat: int = 0

    @property
    def agrees(self) -> bool:
        """Whether every metric agrees within its tolerance."""
        return all(m.agrees for m in self.metrics)

    @property
    def labels(self) -> tuple[str, str]:
        """How each side is named in reports: `k=1440` (scaled config) or `warp x2880`."""
        a, b = (
            Method(method).label(k)
            for k, method in zip(self.time_scales, self.methods, strict=True)
        )
        return a, b


@dataclass(frozen=True)
class ScheduleResults:
    """Every measured schedule of a run, and each pair of compressions compared."""

    measured: tuple[MeasuredSchedule, ...]
    agreements: tuple[Agreement, ...] = field(default=())

    @property
    def repeated(self) -> bool:
        """Whether anything was measured more than once (then reports name each run)."""
        return any(m.repeat > 0 for m in self.measured)
