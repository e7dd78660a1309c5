"""`mailstorm herd reopen`: measure the reopening herd of real sender MTAs, beside the model.

Starts N Postfix + M Exim containers per policy at time scale k, lets them queue mail during a
compressed outage, reopens the receiver with each policy (`open`, `admission`) and writes the
measured curves beside the model's (harness.herd.reopen.experiment, harness.herd.reopen.report).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.durations import format_duration, parse_duration
from harness.errors import MailstormError
from harness.herd.model.loaders import load_schedule_json
from harness.herd.reopen.experiment import ReopenExperiment, ReopenResults, run_reopen
from harness.herd.reopen.plan import OutageVariant, Policy
from harness.herd.reopen.report import write_reopen_reports
from harness.herd.reopen.senders import SenderMix
from harness.report.run_dir import create_run_dir

DEFAULT_SENDERS = "postfix=2,exim=2"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "reopen",
        help="measure the herd of real sender MTAs when a receiver reopens, beside the model",
        description=(
            "Start sender MTA containers (per policy), inject mail into them at a steady rate "
            "during a compressed outage of the receiver, reopen it with each policy (open: "
            "accept all; admission: 421 at the greeting above CAPACITY sessions) and measure "
            "the herd from the receiver's journal: connection burst, concurrency per sender, "
            "accepted rate over time, drain time, duplicates, mail still queued. Writes "
            "herd-reopen.json/.md/.png/.svg (measured beside the model) under "
            "REPORTS/<run-id>/ and REPORTS/latest/. Defaults: 3.5 to 5.5 minutes of wall time."
        ),
    )
    parser.add_argument(
        "--senders",
        default=DEFAULT_SENDERS,
        metavar="MTA=N,...",
        help=f"sender containers per policy (default: {DEFAULT_SENDERS})",
    )
    parser.add_argument("--outage", default="2h", help="outage length, real time (default: 2h)")
    parser.add_argument(
        "--variant",
        default=OutageVariant.REPLY_4XX.value,
        choices=[v.value for v in OutageVariant],
        help="how the receiver is down: 451 at RCPT, refused connections, no greeting "
        "(default: 4xx)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=60.0,
        metavar="K",
        help="compress real time by K (default: 60, a 2 h outage in 2 minutes)",
    )
    parser.add_argument(
        "--clock-warp",
        action="store_true",
        help="run every sender on its stock configuration under a clock K times faster "
        "(default: settings divided by K where the MTA allows it)",
    )
    parser.add_argument(
        "--schedules",
        metavar="FILE",
        help="a schedule.json of `mailstorm schedule` or `matrix`: the model uses the retry "
        "schedules measured in it for the MTAs it has (default: documented defaults)",
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=2,
        metavar="C",
        help="admission policy: 421 at the greeting above C open sessions (default: 2)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        choices=[p.value for p in Policy],
        help="a reopening policy; repeatable (default: both, side by side)",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=20,
        metavar="N",
        help="messages injected into each sender during the outage (default: 20)",
    )
    parser.add_argument(
        "--observe",
        default="3h",
        help="observe at most this long after reopening, real time (default: 3h)",
    )
    parser.add_argument(
        "--bin", default="5m", help="width of the measured curves' bins, real time (default: 5m)"
    )
    parser.add_argument("--reports", default="reports", metavar="DIR", help="reports root")
    parser.set_defaults(run=run)


def experiment_from(arguments: argparse.Namespace, work_dir: Path) -> ReopenExperiment:
    """The experiment the arguments ask for; MailstormError (one line) when they cannot be."""
    k = arguments.time_scale
    if not k > 0:
        raise MailstormError(f"--time-scale {k:g}: K must be > 0")
    return ReopenExperiment(
        senders=SenderMix.parse(arguments.senders),
        work_dir=work_dir,
        outage=_duration(arguments.outage, "--outage"),
        variant=OutageVariant(arguments.variant),
        time_scale=k,
        clock_warp=arguments.clock_warp,
        model_classes=load_schedule_json(arguments.schedules) if arguments.schedules else (),
        capacity=arguments.capacity,
        policies=tuple(Policy(p) for p in dict.fromkeys(arguments.policy or list(Policy))),
        messages_per_sender=arguments.messages,
        observe=_duration(arguments.observe, "--observe"),
        bin_seconds=_duration(arguments.bin, "--bin"),
        progress=lambda line: print(f"  {line}", flush=True),
    )


def _duration(text: str, option: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise MailstormError(f"{option}: {error}") from None
    if seconds <= 0:
        raise MailstormError(f"{option} {text!r}: must be longer than 0")
    return seconds


def run(arguments: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="mailstorm-reopen-") as work:
        experiment = experiment_from(arguments, Path(work))
        run_dir = create_run_dir(arguments.reports, "herd-reopen")
        print(
            f"mailstorm herd reopen: {experiment.senders} per policy, "
            f"{format_duration(experiment.outage)} {experiment.variant.value} outage, policies "
            f"{', '.join(p.value for p in experiment.policies)} (C = {experiment.capacity}), "
            f"k = {experiment.time_scale:g}: at most "
            f"{experiment.longest_wall_seconds / 60:.1f} min of wall time plus container starts"
        )
        started = time.monotonic()
        results = run_reopen(experiment)
        written = write_reopen_reports(results, run_dir)
        for line in summary(results):
            print(f"  {line}")
        print(f"done in {(time.monotonic() - started) / 60:.1f} min")
        for kind, path in written.items():
            print(f"  {kind}: {path}")
        print(f"  (the same under {arguments.reports}/latest/)")
    return 0


def summary(results: ReopenResults) -> list[str]:
    """One line per policy: what the herd did."""
    lines = []
    for result in results.policies:
        m = result.measurement
        drain = "not drained" if m.drain_time is None else format_duration(m.drain_time)
        lines.append(
            f"{result.policy.value}: {m.delivered}/{m.injected} delivered, drained {drain} "
            f"after reopening, peak {m.peak_concurrency} sessions ({m.peak_served} served), "
            f"{m.refused_sessions} refused with 421, {len(m.duplicates)} duplicates, "
            f"{m.still_queued} still queued, {m.lost} lost"
        )
    return lines
