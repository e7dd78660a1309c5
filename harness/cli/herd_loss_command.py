"""`mailstorm herd loss`: how much mail an outage of D hours loses, by sender and failure mode."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import HerdError
from harness.herd.model.loaders import parse_mix
from harness.herd.model.loss import loss_curves
from harness.herd.model.loss_inputs import DOCUMENTED_PROVIDERS, build_loss_input
from harness.herd.model.loss_report import summary_lines, write_loss_reports
from harness.report.run_dir import create_run_dir

#: Where the README's main command leaves the measured schedules and the matrix.
REFERENCE = Path("reports/reference")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "loss",
        help="loss curves: what an outage of 1 h to 7 d loses, by sender and failure mode",
        description=(
            "For outages from 1 hour to 7 days answered with 4xx, refused, blackholed or "
            "answered with 5xx: the share of the mail sent meanwhile that senders lose (queued "
            "then bounced), refuse at once, or deliver late (and how late), per sender class "
            "and for a mix. Classes: the schedules measured in SCHEDULE, the documented "
            "providers, and your own (--senders). Writes loss.json/.md/.png/.svg under "
            "REPORTS/<run-id>/ and REPORTS/latest/."
        ),
    )
    parser.add_argument(
        "--schedule",
        type=Path,
        metavar="FILE",
        help=f"measured schedules (default: {REFERENCE}/schedule.json when it exists)",
    )
    parser.add_argument(
        "--matrix",
        type=Path,
        metavar="FILE",
        help="a matrix.json: 5xx behaviour and senders without a queue, from its outage cells "
        f"(default: {REFERENCE}/matrix.json when it exists)",
    )
    parser.add_argument(
        "--providers",
        type=Path,
        default=DOCUMENTED_PROVIDERS,
        metavar="FILE",
        help="documented provider classes (default: the bundled file; 'none' for none)",
    )
    parser.add_argument(
        "--senders", type=Path, metavar="FILE", help="more sender classes (TOML, your own)"
    )
    parser.add_argument(
        "--mix",
        metavar="NAME=SHARE,...",
        help="the mix's shares, summing to 1 (default: equal shares over every class except "
        "other Debian releases of a bundled MTA)",
    )
    parser.add_argument("--reports", default="reports", metavar="DIR", help="reports root")
    parser.set_defaults(run=run)


def _default(given: Path | None, name: str) -> Path | None:
    if given is not None:
        if not given.is_file():
            raise HerdError(f"{given}: no such file")
        return given
    candidate = REFERENCE / name
    return candidate if candidate.is_file() else None


def run(arguments: argparse.Namespace) -> int:
    providers = None if str(arguments.providers) == "none" else arguments.providers
    loss_input = build_loss_input(
        schedule=_default(arguments.schedule, "schedule.json"),
        matrix=_default(arguments.matrix, "matrix.json"),
        providers=providers,
        senders=arguments.senders,
        mix=parse_mix(arguments.mix) if arguments.mix else None,
    )
    curves = loss_curves(loss_input)
    run_dir = create_run_dir(arguments.reports, "herd-loss")
    written = write_loss_reports(curves, run_dir)
    print("\n".join(summary_lines(curves)))
    print()
    for kind, path in written.items():
        print(f"  {kind}: {path}")
    print(f"  (the same under {arguments.reports}/latest/)")
    return 0
