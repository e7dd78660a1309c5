"""`mailstorm demo`: the bundled plans against a no-queue sender, report under reports/."""

from __future__ import annotations

import argparse
from typing import Any

from harness.demo import bundled_plans, plans_from, render_markdown, run_demo
from harness.errors import MailstormError
from harness.report import create_run_dir


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="run the receiver's bundled fault plans against a sender with no queue",
        description=(
            "Start the receiver with each plan, send messages the way an application without a "
            "queue does, and report what was accepted and what was lost."
        ),
    )
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="FILE",
        help="a plan to run instead of the bundled ones",
    )
    parser.add_argument("--messages", type=int, default=10, metavar="N", help="messages per plan")
    parser.add_argument("--reports", default="reports", metavar="DIR", help="reports root")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    if arguments.messages < 1:
        raise MailstormError("--messages must be at least 1")
    plans = plans_from(arguments.scenario) if arguments.scenario else bundled_plans()
    run_dir = create_run_dir(arguments.reports, "demo")
    print(f"mailstorm demo: {len(plans)} plans, {arguments.messages} messages each")
    results = run_demo(plans, run_dir, messages=arguments.messages, progress=print)
    report = run_dir / "demo.md"
    report.write_text(render_markdown(results), encoding="utf-8")
    print(f"report: {report}  (also {arguments.reports}/latest/demo.md)")
    return 0
