"""How a matrix reads, shared by every human-facing report: grid order, cell labels, deviations.

Markdown, HTML and JUnit must tell the same story about a cell (the same verdict symbol, the same
fate counts, the same list of deviations), so the wording lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.durations import format_duration
from harness.results import (
    CaseResult,
    Check,
    Fate,
    Level,
    Matrix,
    Method,
    Outcome,
    Schedule,
    ScheduleSpread,
    Span,
    TargetInfo,
)

#: The sign between a scenario and a target, and before a time scale.
TIMES = "\N{MULTIPLICATION SIGN}"
#: Verdict -> symbol: pass, deviation (a SHOULD/MUST not met), inconclusive, error (not
#: measured), info (nothing judged), n/a (the scenario does not apply to the sender: not run).
VERDICT_SYMBOLS = {
    "pass": "✅",
    "deviation": "⚠️",
    "inconclusive": "\N{BLACK QUESTION MARK ORNAMENT}",
    "error": "❌",
    "info": "\N{INFORMATION SOURCE}\ufe0f",
    "n/a": "\N{HEAVY MINUS SIGN}",
}
#: The levels whose deviation fails a test: a requirement, not a recommendation.
REQUIRED_LEVELS = frozenset({Level.MUST, Level.MUST_NOT})
#: A parameter whose effective real value is off its default by more than this is "distorted".
DISTORTION_TOLERANCE = 0.05


def scenarios(matrix: Matrix) -> list[str]:
    """Scenario ids in the order the matrix holds them (the catalogue order of the run)."""
    return list(dict.fromkeys(case.scenario for case in matrix.cases))


def targets(matrix: Matrix) -> list[str]:
    """Target names: those described in `matrix.targets`, then any only named by a case."""
    names = [target.name for target in matrix.targets]
    return list(dict.fromkeys([*names, *(case.target for case in matrix.cases)]))


def fate_counts(case: CaseResult) -> list[tuple[str, int]]:
    """The non-zero fate counts of a case, in the order of `Fate` (delivered first, lost last)."""
    known = [(fate.value, case.fates.get(fate.value, 0)) for fate in Fate]
    others = [(name, count) for name, count in case.fates.items() if name not in set(Fate)]
    return [(name, count) for name, count in [*known, *others] if count]


def fates_text(case: CaseResult) -> str:
    """`delivered 1`, `bounced 1 (5.1.1)`, `queued 2, lost 1`; `no message` when all are zero.

    A bounce carries the DSN's status, the one detail that tells a 5.1.1 from a 4.4.7 give-up.
    """
    parts = []
    for name, count in fate_counts(case):
        part = f"{name} {count}"
        if name == Fate.BOUNCED and case.dsn is not None and case.dsn.status:
            part += f" ({case.dsn.status})"
        parts.append(part)
    return ", ".join(parts) or "no message"


def cell_text(case: CaseResult | None, symbols: dict[str, str] = VERDICT_SYMBOLS) -> str:
    """The compact grid cell: verdict symbol plus fate counts, `❌ error` for a harness error,
    `n/a` for a scenario that does not apply to the sender."""
    if case is None:
        return "—"
    symbol = symbols.get(case.verdict, "?")
    if case.not_applicable:
        return f"{symbol} n/a"
    if case.error:
        return f"{symbol} error"
    return f"{symbol} {fates_text(case)}"


@dataclass(frozen=True)
class Deviation:
    """One check a case did not meet, with the case it belongs to."""

    case: CaseResult
    check: Check

    @property
    def required(self) -> bool:
        """A MUST / MUST NOT deviation (a test failure), not a SHOULD (a result)."""
        return self.check.level in REQUIRED_LEVELS


def deviations(matrix: Matrix) -> list[Deviation]:
    """Every deviation, grid order (scenario, then target), checks in the case's order."""
    return checks_with(matrix, Outcome.DEVIATION)


def inconclusive(matrix: Matrix) -> list[Deviation]:
    """Every check whose threshold lies within the measured value's uncertainty, grid order."""
    return checks_with(matrix, Outcome.INCONCLUSIVE)


def checks_with(matrix: Matrix, outcome: Outcome) -> list[Deviation]:
    """Every check with `outcome`, grid order (scenario, then target), in the case's order."""
    order = {name: index for index, name in enumerate(targets(matrix))}
    rank = {name: index for index, name in enumerate(scenarios(matrix))}
    cases = sorted(matrix.cases, key=lambda case: (rank[case.scenario], order[case.target]))
    return [
        Deviation(case, check)
        for case in cases
        for check in case.checks
        if check.outcome == outcome
    ]


def uncertainties(matrix: Matrix) -> list[str]:
    """`postfix x60: ± 2m` per target and time scale: the ± on that run's retry-clock times."""
    seen: dict[tuple[str, float], float | None] = {}
    for case in matrix.cases:
        seen.setdefault((case.target, case.time_scale), case.time_uncertainty)
    return [
        f"{target} {TIMES}{scale:g}: "
        + ("not established" if u is None else f"± {format_duration(u)}" if u else "exact")
        for (target, scale), u in seen.items()
    ]


def errors(matrix: Matrix) -> list[CaseResult]:
    """The cases the harness could not measure."""
    return [case for case in matrix.cases if case.error]


def verdict_counts(matrix: Matrix) -> dict[str, int]:
    """How many cells have each verdict, in the order pass, deviation, error, info."""
    counts = dict.fromkeys(VERDICT_SYMBOLS, 0)
    for case in matrix.cases:
        counts[case.verdict] = counts.get(case.verdict, 0) + 1
    return counts


def real_time(seconds: float | None) -> str:
    """A real-MTA time for people: `+0s`, `+5m`, `+3d2h`; `—` for none."""
    if seconds is None:
        return "—"
    if seconds == 0:
        return "+0s"
    sign = "-" if seconds < 0 else "+"
    return sign + format_duration(abs(seconds))


def plus_minus(case: CaseResult) -> str:
    """` ± 2m` for a case whose retry-clock times carry an uncertainty, else nothing."""
    u = case.time_uncertainty
    return f" ± {format_duration(u)}" if u else ""


def uncertainty_text(case: CaseResult) -> str:
    """What the ± on this case's times is, in one phrase for the evidence."""
    u = case.time_uncertainty
    if u is None:
        return "uncertainty not established (clock warp: see the schedule's)"
    if u == 0:
        return "exact"
    return (
        f"± {format_duration(u)}: the MTA's whole-second clock handling at "
        f"{TIMES}{case.time_scale:g} (docs/fidelity.md)"
    )


def time_scales_text(target: TargetInfo) -> str:
    """`x60`, or `x60, x3600` for a target run at several; `x1` means real time."""
    return ", ".join(f"{TIMES}{scale:g}" for scale in target.time_scales) or "—"


def distorted_parameters(target: TargetInfo) -> list[str]:
    """One phrase per scaled parameter whose real effect is not its default.

    The runner records each parameter as `TargetInfo.parameters` entries with `name`,
    `default_seconds`, `configured_seconds`, `effective_real_seconds`, `exact` and `note`
    (see `SenderTarget.describe`); an entry missing those keys is shown as it is rather than
    dropped, because a hidden distortion is the thing this line exists to prevent.
    """
    phrases = []
    for parameter in target.parameters:
        phrase = _distortion_phrase(parameter)
        if phrase:
            phrases.append(phrase)
    return phrases


def _distortion_phrase(parameter: dict[str, Any]) -> str | None:
    name = str(parameter.get("name", "?"))
    default = parameter.get("default_seconds")
    effective = parameter.get("effective_real_seconds")
    note = str(parameter.get("note") or "")
    if not isinstance(default, int | float) or not isinstance(effective, int | float):
        if parameter.get("exact") is True:
            return None
        details = ", ".join(f"{key}={value}" for key, value in parameter.items() if key != "name")
        return f"{name}: {details}"
    ratio = effective / default if default else (1.0 if effective == 0 else float("inf"))
    if parameter.get("exact") is True or abs(ratio - 1.0) <= DISTORTION_TOLERANCE:
        return None
    phrase = (
        f"{name}: default {format_duration(default)}, effectively {format_duration(effective)}"
        f" ({TIMES}{ratio:.3g})"
    )
    return f"{phrase}: {note}" if note else phrase


def duration(seconds: float | None) -> str:
    """A real duration for people (`5m`, `4d5m`); `—` for none."""
    return "—" if seconds is None else format_duration(seconds)


def schedule_time(schedule: Schedule, seconds: float | None) -> str:
    """A schedule's time with its uncertainty (`1h10m ± 3m`); `—` for none."""
    if seconds is None:
        return "—"
    u = schedule.time_uncertainty
    return f"{format_duration(seconds)} ± {format_duration(u)}" if u else format_duration(seconds)


def schedule_uncertainty_text(schedule: Schedule) -> str:
    """What the ± on a schedule's times is, in one phrase."""
    u = schedule.time_uncertainty
    if u is None:
        return "uncertainty not established"
    if schedule.method is Method.CLOCK_WARP:
        return (
            f"± {format_duration(u)}: the longest wall-clock cost of one attempt in this run "
            f"times {TIMES}{schedule.time_scale:g}, plus the MTA's whole-second slack"
        )
    return f"± {format_duration(u)}: the MTA's whole-second clock handling at {TIMES}" + (
        f"{schedule.time_scale:g} (docs/fidelity.md)"
    )


def first_retry_window_text(schedule: Schedule, spread: ScheduleSpread | None = None) -> str | None:
    """The window the MTA's configuration puts its first retry in, beside the measured draws."""
    if schedule.first_retry_window is None:
        return None
    earliest, latest = schedule.first_retry_window
    drawn = (
        f"this run drew {duration(schedule.first_retry)}"
        if spread is None
        else f"its {spread.runs} runs drew {span_text(spread.span('first_retry'))}"
    )
    return (
        f"its configuration puts the first retry {format_duration(earliest)} to "
        f"{format_duration(latest)} after a failure, by the phase of its queue scans or runs; "
        f"{drawn}"
    )


#: The quantities a schedule's table shows, in column order (names of `SPREAD_QUANTITIES`).
SCHEDULE_COLUMNS = (
    "first_retry",
    "median_interval",
    "longest_interval",
    "warning",
    "give_up",
    "attempts",
)


def span_text(span: Span | None, *, count: bool = False) -> str:
    """One quantity over the runs: `29m58s to 43m24s`, one value when they are equal, `—` when
    no run had it."""
    if span is None:
        return "—"
    show = (lambda v: f"{v:g}") if count else format_duration
    low, high = show(span.low), show(span.high)
    return low if low == high else f"{low} to {high}"


def spread_values(spread: ScheduleSpread) -> dict[str, str]:
    """Each quantity of `SPREAD_QUANTITIES` over the runs, as a report cell: `min to max`,
    with the largest ± of the runs on the times, and how many runs had it when not all did."""
    shown = {}
    for name, span in spread.spans:
        text = span_text(span, count=name == "attempts")
        if span is not None and name != "attempts" and spread.time_uncertainty:
            text += f" ± {format_duration(spread.time_uncertainty)}"
        if span is not None and span.of_runs < spread.runs:
            text += f" (in {span.of_runs} of {spread.runs} runs)"
        shown[name] = text
    return shown


def spread_text(spread: ScheduleSpread) -> str:
    """What the min-max row is and whether the checks came out the same in every run."""
    failed = (
        f"; {spread.failed_runs} more run(s) ended in a harness error" if spread.failed_runs else ""
    )
    if spread.outcomes_agree:
        checks = "every check came out the same in every run"
    else:
        checks = "the checks differed between runs: " + "; ".join(
            f"{name} {', '.join(o.value for o in outcomes)}" for name, outcomes in spread.outcomes
        )
    return (
        f"min to max over {spread.runs} runs of the same measurement, one after another in "
        f"fresh containers (each run is another phase of the queue runners){failed}; {checks}"
    )


def method_text(schedule: Schedule) -> str:
    """How a schedule was measured: `scaled config x1440`, `clock warp x2880` (with TIMES)."""
    return f"{schedule.method.replace('-', ' ')} {TIMES}{schedule.time_scale:g}"


def schedule_distortions(schedule: Schedule) -> list[str]:
    """One phrase per parameter the compression distorted when the schedule was measured."""
    phrases = []
    for p in schedule.distorted:
        ratio = "" if p.default_seconds == 0 else f" ({TIMES}{p.distortion:.3g})"
        phrase = (
            f"{p.name}: default {format_duration(p.default_seconds)}, "
            f"effectively {format_duration(p.effective_real_seconds)}{ratio}"
        )
        phrases.append(f"{phrase}: {p.note}" if p.note else phrase)
    return phrases


def schedules(matrix: Matrix) -> list[Schedule]:
    """The retry schedules of the matrix's targets, in column order."""
    return [target.schedule for target in matrix.targets if target.schedule is not None]
