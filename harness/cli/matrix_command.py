"""`mailstorm matrix`: the compliance matrix of sender MTAs, with reports under reports/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.containers import DEFAULT_SUITE
from harness.durations import format_duration
from harness.errors import MailstormError
from harness.main_job import (
    DEFAULT_SCHEDULE_REPEATS,
    REFERENCE_DIR,
    MainJob,
    MainJobResult,
    MergeJob,
    run_main_job,
    run_merge_job,
)
from harness.matrix import DEFAULT_TIME_SCALES, Shard
from harness.report import format_differences, load_baseline
from harness.results import Schedule
from harness.scenarios import Scenario, Tier, load_catalogue, load_scenario, select
from harness.targets import chosen_targets, target_names


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "matrix",
        help="run every scenario on every sender MTA and write the compliance matrix",
        description=(
            "Start each sender MTA in a container, point it at a receiver per scenario, inject "
            "messages, and establish every message's fate; write matrix.json, matrix.md, "
            "matrix.html and JUnit XML under REPORTS/<run-id>/ and REPORTS/latest/. "
            "`mailstorm matrix merge DIR...` joins the run directories of `--shard` runs into "
            "one matrix (with --baseline, --write-baseline, --update-reference, --reports)."
        ),
    )
    parser.add_argument(
        "merge",
        nargs="*",
        metavar="merge DIR",
        help="`merge` and the shards' run directories (or their matrix.json files)",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N: a deterministic, balanced share of the containers and "
        "schedules; run every I from 1 to N with the same other arguments, then "
        "`mailstorm matrix merge` (docs/sharding.md)",
    )
    parser.add_argument(
        "--targets",
        metavar="LIST",
        help="comma-separated sender MTAs, NAME@SUITE for another Debian suite "
        "(postfix@bookworm), or 'all' for every bundled target and its versions side by side "
        f"(default: the bundled ones on Debian {DEFAULT_SUITE}, {','.join(target_names())}; with "
        "--target-dir, only the user's targets)",
    )
    parser.add_argument(
        "--target-dir",
        action="append",
        metavar="DIR",
        help="the user's own sender: a folder with a target.toml naming the bundled target it "
        "extends and the user's configuration (docs/user-targets.md); repeatable",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="ID|FILE",
        help="a catalogue scenario id (globs allowed) or a scenario TOML file; repeatable "
        "(default: the whole bundled catalogue, harness/scenarios/bundled/)",
    )
    parser.add_argument(
        "--time-scale",
        action="append",
        metavar="[TIER=]K",
        help="compress real MTA time by K (default fine=60, coarse=1440); "
        "a bare K applies to both tiers",
    )
    parser.add_argument("--reports", default="reports", metavar="DIR", help="reports root")
    parser.add_argument(
        "--baseline", metavar="FILE", help="exit 1 and print the differences if the run differs"
    )
    parser.add_argument("--write-baseline", metavar="FILE", help="record this run as a baseline")
    schedules = parser.add_mutually_exclusive_group()
    schedules.add_argument(
        "--schedules",
        metavar="FILE",
        help="take each target's retry schedule from a schedule.json of `mailstorm schedule` "
        "(its 4xx variant, clock warp preferred, else the smallest time scale) instead of "
        "measuring it (by default each target's stock schedule is measured under a clock warp, "
        "after the matrix, against 451 at RCPT)",
    )
    schedules.add_argument(
        "--no-schedules",
        action="store_true",
        help="neither measure nor attach retry schedules",
    )
    parser.add_argument(
        "--schedule-repeats",
        type=int,
        default=DEFAULT_SCHEDULE_REPEATS,
        metavar="N",
        help="measure each retry schedule N times, one run after another, and report min to "
        f"max beside the first run (default: {DEFAULT_SCHEDULE_REPEATS})",
    )
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="one container per scenario instead of one per tier (slower; verdicts must match)",
    )
    parser.add_argument(
        "--update-reference",
        action="store_true",
        help=f"also copy matrix.md, matrix.json, the schedules and a baseline to {REFERENCE_DIR}/ "
        "(the committed reference results)",
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    if arguments.merge:
        return _merge(arguments)
    shard = Shard.parse(arguments.shard) if arguments.shard else None
    targets = chosen_targets(arguments.targets, arguments.target_dir or [])
    scenarios = _scenarios(arguments.scenario)
    scales = _time_scales(arguments.time_scale)
    job = MainJob(
        targets=targets,
        scenarios=scenarios,
        reports=Path(arguments.reports),
        time_scales=scales,
        measure_schedules=not arguments.no_schedules,
        schedule_repeats=_repeats(arguments.schedule_repeats),
        schedules_file=Path(arguments.schedules) if arguments.schedules else None,
        baseline=load_baseline(arguments.baseline) if arguments.baseline else None,
        write_baseline=Path(arguments.write_baseline) if arguments.write_baseline else None,
        reference_dir=REFERENCE_DIR if arguments.update_reference else None,
        isolate=arguments.isolate,
        progress=lambda line: print(f"  {line}", flush=True),
        shard=shard,
    )
    print(
        f"mailstorm matrix: {len(scenarios)} scenarios x {len(targets)} targets "
        f"({', '.join(targets)}); time scales "
        + ", ".join(f"{tier.value} {scales[tier]:g}" for tier in Tier)
        + (f"; shard {shard.label}" if shard else "")
    )
    longest = max(s.observe / scales[s.tier] for s in scenarios)
    print(f"the longest scenario observes for {longest / 60:.1f} min of wall time at most")
    result = run_main_job(job)
    _print_schedules(result, arguments.schedules)
    return _report(result, arguments, job.reference_dir)


def _merge(arguments: argparse.Namespace) -> int:
    """`mailstorm matrix merge DIR...`: the shards joined, reported and compared."""
    words = list(arguments.merge)
    if words[0] != "merge":
        raise MailstormError(
            f"matrix: unexpected argument {words[0]!r} (did you mean `matrix merge DIR...`?)"
        )
    if len(words) < 2:
        raise MailstormError("matrix merge: give the shards' run directories")
    job = MergeJob(
        parts=[Path(w) for w in words[1:]],
        reports=Path(arguments.reports),
        scenario_order=[s.id for s in load_catalogue()],
        # the run's columns in its order; without --targets, by name (as the default run's)
        target_order=(
            chosen_targets(arguments.targets, arguments.target_dir or [])
            if arguments.targets
            else ()
        ),
        baseline=load_baseline(arguments.baseline) if arguments.baseline else None,
        write_baseline=Path(arguments.write_baseline) if arguments.write_baseline else None,
        reference_dir=REFERENCE_DIR if arguments.update_reference else None,
    )
    result = run_merge_job(job)
    print(f"mailstorm matrix merge: {len(job.parts)} shards, {len(result.matrix.cases)} cells")
    return _report(result, arguments, job.reference_dir)


def _report(result: MainJobResult, arguments: argparse.Namespace, reference: Path | None) -> int:
    """The run's verdicts, files, reference and baseline comparison; the exit code."""
    print(
        f"done in {result.minutes:.1f} min: "
        + ", ".join(f"{n} {v}" for v, n in sorted(result.verdicts.items()))
    )
    if result.schedule_errors:
        print(
            f"{len(result.schedule_errors)} retry schedule measurement(s) ended in a harness "
            "error: " + "; ".join(result.schedule_errors)
        )
    for kind, path in result.written.items():
        print(f"  {kind}: {path}")
    print(f"  (the same under {arguments.reports}/latest/)")
    if reference is not None:
        print(f"reference results updated in {reference}/")
    if result.differences is not None:
        if result.differences:
            print(
                f"{len(result.differences)} difference(s) from the baseline {arguments.baseline}:"
            )
            print(format_differences(list(result.differences)))
        else:
            print(f"no difference from the baseline {arguments.baseline}")
    return 1 if result.failed else 0


def _print_schedules(result: MainJobResult, source: str | None) -> None:
    if source is not None:
        for target in result.matrix.targets:
            found = target.schedule
            shown = f"{found.variant}, {found.label}" if found else "none"
            print(f"retry schedule of {target.name} from {source}: {shown}")
    elif result.schedules is not None:
        repeated = result.schedules.repeated
        for m in result.schedules.measured:
            shown = (m.error or "?") if m.schedule is None else _schedule_line(m.schedule)
            run = f", run {m.repeat + 1}" if repeated else ""
            print(f"retry schedule of {m.target} ({m.method} x{m.time_scale:g}{run}): {shown}")


def _scenarios(requested: list[str] | None) -> list[Scenario]:
    if not requested:
        return load_catalogue()
    files = [r for r in requested if r.endswith(".toml") or Path(r).is_file()]
    ids = [r for r in requested if r not in files]
    chosen = select(load_catalogue(), ids) if ids else []
    chosen += [load_scenario(path) for path in files]
    seen: set[str] = set()
    for scenario in chosen:
        if scenario.id in seen:
            raise MailstormError(f"scenario {scenario.id!r} is named twice")
        seen.add(scenario.id)
    return chosen


def _time_scales(values: list[str] | None) -> dict[Tier, float]:
    scales = dict(DEFAULT_TIME_SCALES)
    for value in values or []:
        tier_name, _, number = value.rpartition("=")
        try:
            scale = float(number)
        except ValueError:
            raise MailstormError(f"--time-scale {value!r}: K must be a number") from None
        if scale <= 0:
            raise MailstormError(f"--time-scale {value!r}: K must be > 0")
        tiers = list(Tier) if not tier_name else [t for t in Tier if t.value == tier_name]
        if not tiers:
            known = ", ".join(t.value for t in Tier)
            raise MailstormError(f"--time-scale {value!r}: unknown tier {tier_name!r} ({known})")
        for tier in tiers:
            scales[tier] = scale
    return scales


def _repeats(n: int) -> int:
    if n < 1:
        raise MailstormError(f"--schedule-repeats {n}: N must be at least 1")
    return n


def _schedule_line(schedule: Schedule) -> str:
    def shown(seconds: float | None) -> str:
        return "none" if seconds is None else format_duration(seconds)

    return (
        f"{len(schedule.attempts)} attempts, first retry {shown(schedule.first_retry)}, "
        f"longest interval {shown(schedule.longest_interval)}, warning {shown(schedule.warning)}, "
        f"give-up {shown(schedule.give_up)}"
    )
