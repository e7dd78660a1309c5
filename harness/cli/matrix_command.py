"""`mailstorm matrix`: the compliance matrix of sender MTAs, with reports under reports/."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.durations import format_duration
from harness.errors import MailstormError
from harness.matrix import DEFAULT_TIME_SCALES, MatrixRun, observe_groups, run_matrix
from harness.report import create_run_dir
from harness.report.baseline import compare, format_differences, load_baseline, write_baseline
from harness.report.schedule_section import attach_schedules, read_schedule_json
from harness.report.writer import write_reports
from harness.scenarios import Scenario, Tier, load_catalogue, load_scenario, select
from harness.schedule import Schedule, ScheduleRun, Variant
from harness.schedule.report import write_schedule_reports
from harness.schedule.runner import default_clock_warps, schedule_groups, schedule_results
from harness.targets import TARGETS, parse_target_list

#: Where the committed reference results of the bundled targets live.
REFERENCE_DIR = "reports/reference"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "matrix",
        help="run every scenario on every sender MTA and write the compliance matrix",
        description=(
            "Start each sender MTA in a container, point it at a receiver per scenario, inject "
            "messages, and establish every message's fate; write matrix.json, matrix.md, "
            "matrix.html and JUnit XML under REPORTS/<run-id>/ and REPORTS/latest/."
        ),
    )
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        metavar="LIST",
        help=f"comma-separated sender MTAs (default: all bundled: {','.join(TARGETS)})",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="ID|FILE",
        help="a catalogue scenario id (globs allowed) or a scenario TOML file; repeatable "
        "(default: the whole catalogue in suites/scenarios/)",
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
    targets = parse_target_list(arguments.targets)
    scenarios = _scenarios(arguments.scenario)
    scales = _time_scales(arguments.time_scale)
    baseline = load_baseline(arguments.baseline) if arguments.baseline else None
    schedules = read_schedule_json(arguments.schedules) if arguments.schedules else ()
    run_dir = create_run_dir(arguments.reports, "matrix")
    started = time.monotonic()
    print(
        f"mailstorm matrix: {len(scenarios)} scenarios x {len(targets)} targets "
        f"({', '.join(targets)}); time scales "
        + ", ".join(f"{tier.value} {scales[tier]:g}" for tier in Tier)
    )
    longest = max(s.observe / scales[s.tier] for s in scenarios)
    print(f"the longest scenario observes for {longest / 60:.1f} min of wall time at most")
    measure = not (arguments.schedules or arguments.no_schedules)
    with tempfile.TemporaryDirectory(prefix="mailstorm-matrix-") as work:
        matrix = run_matrix(
            MatrixRun(
                targets=targets,
                scenarios=scenarios,
                work_dir=Path(work),
                time_scales=scales,
                run_id=run_dir.name,
                progress=lambda line: print(f"  {line}", flush=True),
                isolate=arguments.isolate,
            )
        )
        warps = default_clock_warps(targets) if measure else {}
        observed = []
        if warps:
            # After the matrix, not alongside it: the warped MTAs churn processes (a queue scan
            # every 0.1 s of wall time), and that load shifted a borderline coarse case
            # (outage-120h-451 on Postfix, whose 5-day lifetime equals the outage).
            print(
                "retry schedules, stock configuration under a clock warp: "
                + ", ".join(f"{t} x{k:g}" for t, k in warps.items())
                + f" (about {max(5 * 86400 / k for k in warps.values()) / 60:.0f} min)"
            )
            schedule_run = ScheduleRun(
                targets=list(warps),
                variants=[Variant.REPLY_4XX],
                work_dir=Path(work),
                time_scales=(),
                clock_warps=warps,
            )
            observed = observe_groups(
                schedule_groups(schedule_run),
                schedule_run.work_dir,
                lambda line: print(f"  {line}", flush=True),
            )
    if observed:
        measured = schedule_results(observed)
        matrix = attach_schedules(matrix, measured.measured)
        write_schedule_reports(measured, run_dir)
        for m in measured.measured:
            shown = (m.error or "?") if m.schedule is None else _schedule_line(m.schedule)
            print(f"retry schedule of {m.target} ({m.method} x{m.time_scale:g}): {shown}")
    if arguments.schedules:
        matrix = attach_schedules(matrix, schedules)
        for target in matrix.targets:
            found = target.schedule
            shown = f"{found.variant}, {found.method} x{found.time_scale:g}" if found else "none"
            print(f"retry schedule of {target.name} from {arguments.schedules}: {shown}")
    written = write_reports(matrix, run_dir)
    verdicts: dict[str, int] = {}
    for case in matrix.cases:
        verdicts[case.verdict] = verdicts.get(case.verdict, 0) + 1
    print(
        f"done in {(time.monotonic() - started) / 60:.1f} min: "
        + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
    )
    for kind, path in written.items():
        print(f"  {kind}: {path}")
    print(f"  (the same under {arguments.reports}/latest/)")
    if arguments.update_reference:
        reference = Path(REFERENCE_DIR)
        reference.mkdir(parents=True, exist_ok=True)
        schedule_files = ("schedule.json", "schedule.md", *(f"schedule-{t}.png" for t in targets))
        for name in ("matrix.md", "matrix.json", *schedule_files):
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, reference / name)
        write_baseline(matrix, reference / "baseline.json")
        print(f"reference results updated in {reference}/")
    if arguments.write_baseline:
        print(f"baseline written to {write_baseline(matrix, arguments.write_baseline)}")
    status = 1 if verdicts.get("error") else 0
    if baseline is not None:
        differences = compare(baseline, matrix)
        if differences:
            print(f"{len(differences)} difference(s) from the baseline {arguments.baseline}:")
            print(format_differences(differences))
            status = 1
        else:
            print(f"no difference from the baseline {arguments.baseline}")
    return status


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


def _schedule_line(schedule: Schedule) -> str:
    def shown(seconds: float | None) -> str:
        return "none" if seconds is None else format_duration(seconds)

    return (
        f"{len(schedule.attempts)} attempts, first retry {shown(schedule.first_retry)}, "
        f"longest interval {shown(schedule.longest_interval)}, warning {shown(schedule.warning)}, "
        f"give-up {shown(schedule.give_up)}"
    )
