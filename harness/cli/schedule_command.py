"""`mailstorm schedule`: measure each target's retry schedule at two time scales and compare."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.errors import MailstormError
from harness.report import create_run_dir
from harness.report.schedule_reports import write_schedule_reports
from harness.schedule import DEFAULT_TIME_SCALES, ScheduleRun, Variant, run_schedules
from harness.schedule.runner import default_clock_warps
from harness.targets import parse_target_list, target_class, target_names

_DEFAULT_VARIANTS = tuple(Variant)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "schedule",
        help="measure each sender MTA's retry schedule (retries, warning, give-up)",
        description=(
            "Send one message per (target, variant, time scale) to a receiver that never "
            "accepts it, observe up to 7 real days, and derive the retry schedule in real time; "
            "compare the time scales to validate the compression. Writes schedule.json, "
            "schedule.md and schedule.svg under REPORTS/<run-id>/ and REPORTS/latest/."
        ),
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="NAME",
        help=f"a sender MTA; repeatable (default: all bundled: {','.join(target_names())})",
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=[v.value for v in Variant],
        help="how the receiver fails: 451 at RCPT, no greeting, nothing listening; repeatable "
        "(default: all)",
    )
    parser.add_argument(
        "--time-scale",
        action="append",
        type=float,
        metavar="K",
        help="compress real time by K; repeatable; give two to validate the compression "
        f"(default: {' and '.join(f'{k:g}' for k in DEFAULT_TIME_SCALES)})",
    )
    warp = parser.add_mutually_exclusive_group()
    warp.add_argument(
        "--clock-warp",
        type=float,
        metavar="K",
        help="also run each target's stock configuration on a clock K times faster (default: "
        "each target's own factor: "
        + ", ".join(f"{n} x{k:g}" for n, k in default_clock_warps(target_names()).items())
        + ")",
    )
    warp.add_argument(
        "--no-clock-warp",
        action="store_true",
        help="measure with scaled configuration only",
    )
    warp.add_argument(
        "--only-clock-warp",
        action="store_true",
        help="measure each target's stock configuration under its own clock warp only, no "
        "scaled configuration (what `mailstorm matrix` measures; with --repeat, the cheapest "
        "way to see a schedule's spread)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="measure everything N times, one run after another in fresh containers, and "
        "report each quantity's min to max: a first retry that waits for the next queue run "
        "depends on that run's phase, so one run is one draw (default: 1)",
    )
    parser.add_argument("--reports", default="reports", metavar="DIR", help="reports root")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    targets = parse_target_list(",".join(arguments.target or target_names()))
    variants = [Variant(v) for v in dict.fromkeys(arguments.variant or _DEFAULT_VARIANTS)]
    scales = tuple(dict.fromkeys(arguments.time_scale or DEFAULT_TIME_SCALES))
    if any(k <= 0 for k in scales):
        raise MailstormError(f"--time-scale {scales}: K must be > 0")
    warps = _clock_warps(targets, arguments.clock_warp, arguments.no_clock_warp)
    if arguments.only_clock_warp:
        if arguments.time_scale:
            raise MailstormError(
                "--only-clock-warp measures no scaled configuration: drop --time-scale"
            )
        missing = [t for t in targets if t not in warps]
        if missing:
            raise MailstormError(
                f"{', '.join(missing)} cannot run under a clock warp: drop --only-clock-warp"
            )
        scales = ()
    if arguments.repeat < 1:
        raise MailstormError(f"--repeat {arguments.repeat}: N must be at least 1")
    slowest = min([*scales, *warps.values()])
    run_dir = create_run_dir(arguments.reports, "schedule")
    started = time.monotonic()
    print(
        f"mailstorm schedule: {', '.join(targets)}; variants {', '.join(variants)}; time scales "
        f"{', '.join(f'{k:g}' for k in scales) or 'none'}; clock warp "
        f"{', '.join(f'{t} x{k:g}' for t, k in warps.items()) or 'none'}; at most "
        f"{7 * 1440 / slowest:.0f} min of wall time (7 real days at the smallest factor)"
        + (f", {arguments.repeat} times one after another" if arguments.repeat > 1 else "")
    )
    with tempfile.TemporaryDirectory(prefix="mailstorm-schedule-") as work:
        results = run_schedules(
            ScheduleRun(
                targets=targets,
                variants=variants,
                work_dir=Path(work),
                time_scales=scales,
                clock_warps=warps,
                progress=lambda line: print(f"  {line}", flush=True),
                repeats=arguments.repeat,
            )
        )
    written = write_schedule_reports(results, run_dir)
    print(f"done in {(time.monotonic() - started) / 60:.1f} min")
    for agreement in results.agreements:
        failed = [m.name for m in agreement.metrics if not m.agrees]
        scales_shown = " vs ".join(agreement.labels)
        if arguments.repeat > 1:
            scales_shown += f" (run {agreement.repeat + 1})"
        state = "agree" if not failed else f"disagree on {', '.join(failed)}"
        print(f"  {agreement.target} {agreement.variant} {scales_shown}: {state}")
    for kind, path in written.items():
        print(f"  {kind}: {path}")
    print(f"  (the same under {arguments.reports}/latest/)")
    return 1 if any(m.error for m in results.measured) else 0


def _clock_warps(targets: list[str], factor: float | None, disabled: bool) -> dict[str, float]:
    """The warp factor per target: none when disabled, each target's own by default (for the
    targets that can run warped), else the one given, for targets that all can."""
    if disabled:
        return {}
    if factor is None:
        return default_clock_warps(targets)
    if factor <= 1:
        raise MailstormError(f"--clock-warp {factor:g}: K must be > 1")
    for name in targets:
        if target_class(name).default_warp_factor is None:
            raise MailstormError(f"{name} cannot run under a clock warp; use --no-clock-warp")
    return dict.fromkeys(targets, factor)
