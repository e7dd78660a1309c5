"""`mailstorm herd model`: predict the reopening herd from the senders' retry schedules."""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.durations import parse_duration
from harness.errors import HerdError
from harness.herd.model.loaders import (
    DEFAULT_SENDERS,
    apply_mix,
    load_schedule_json,
    load_senders_toml,
    parse_mix,
)
from harness.herd.model.prediction import HerdScenario, predict
from harness.herd.model.report import summary_lines, write_herd_reports
from harness.herd.model.sender_classes import SenderClass
from harness.report.run_dir import create_run_dir

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|m|h|d))?\s*$")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_rate(text: str, option: str) -> float:
    """Messages per second from `100/s`, `360000/h`, `5/m`, `2e6/d` or a bare number (per s)."""
    match = _RATE.match(text)
    if match is None:
        raise HerdError(f"{option} {text!r}: expected a rate such as 100/s, 360000/h or 100")
    number, unit = match.groups()
    return float(number) / _PER[unit or "s"]


def _duration(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise HerdError(f"{option}: {error}") from None


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "model",
        help="predict the herd: backlog, offered load, echoes, drain time, bounces",
        description=(
            "Model a receiving service that was down for OUTAGE and reopens: the mail queued "
            "for it by each class of sender, what those senders bounced meanwhile, the load "
            "they offer after reopening (with the echoes of mail the receiver defers with 421 "
            "when over capacity) and when the backlog is drained. Prints a summary and writes "
            "herd-model.json/.md/.png/.svg under REPORTS/<run-id>/ and REPORTS/latest/. "
            "The defaults give the 96 h Postfix/Exim/provider example."
        ),
    )
    parser.add_argument("--outage", default="96h", help="outage length (default: 96h)")
    parser.add_argument(
        "--rate", default="100/s", help="normal inbound rate: 100/s, 360000/h (default: 100/s)"
    )
    parser.add_argument(
        "--senders",
        type=Path,
        default=DEFAULT_SENDERS,
        metavar="FILE",
        help="sender classes (TOML, see docs/herd-model.md; default: the bundled "
        "Postfix/Exim/provider file)",
    )
    parser.add_argument(
        "--schedule",
        type=Path,
        metavar="FILE",
        help="a schedule.json of `mailstorm schedule`: its measured classes replace the "
        "documented ones of the same name",
    )
    parser.add_argument(
        "--mix",
        metavar="NAME=SHARE,...",
        help="shares of normal inbound mail by class, summing to 1 (default: the senders "
        "file's shares, postfix=0.3,exim=0.2,provider=0.5)",
    )
    parser.add_argument(
        "--capacity",
        default="300/s",
        help="messages the receiver accepts per second after reopening; 'none' for "
        "unlimited (default: 300/s)",
    )
    parser.add_argument(
        "--max-sessions", type=int, metavar="N", help="receiver's concurrent SMTP sessions"
    )
    parser.add_argument(
        "--session-time", default="1s", help="mean SMTP session, one message (default: 1s)"
    )
    parser.add_argument("--step", default="60s", help="time step after reopening (default: 60s)")
    parser.add_argument(
        "--horizon", help="how long after reopening to follow (default: longest give-up + 1d)"
    )
    parser.add_argument("--reports", default="reports", metavar="DIR", help="reports root")
    parser.set_defaults(run=run)


def scenario_from_arguments(arguments: argparse.Namespace) -> HerdScenario:
    """The model's input from the command line; every bad value is a one-line HerdError."""
    classes: dict[str, SenderClass] = {c.name: c for c in load_senders_toml(arguments.senders)}
    if arguments.schedule is not None:
        for measured in load_schedule_json(arguments.schedule):
            stated = classes.get(measured.name)
            classes[measured.name] = replace(measured, share=stated.share if stated else 0.0)
    mix = parse_mix(arguments.mix) if arguments.mix else {}
    senders = apply_mix(tuple(classes.values()), mix)
    capacity_text = str(arguments.capacity).strip().lower()
    capacity = None if capacity_text in ("none", "inf") else parse_rate(capacity_text, "--capacity")
    if capacity is not None and capacity <= 0:
        raise HerdError("--capacity: must be > 0 (or 'none' for unlimited)")
    if arguments.max_sessions is not None and arguments.max_sessions < 1:
        raise HerdError("--max-sessions: must be >= 1")
    step = _duration(arguments.step, "--step")
    session = _duration(arguments.session_time, "--session-time")
    if step <= 0 or session <= 0:
        raise HerdError("--step and --session-time must be > 0")
    return HerdScenario(
        outage=_duration(arguments.outage, "--outage"),
        rate=parse_rate(arguments.rate, "--rate"),
        senders=senders,
        capacity=capacity,
        max_sessions=arguments.max_sessions,
        session_seconds=session,
        step=step,
        horizon=None if arguments.horizon is None else _duration(arguments.horizon, "--horizon"),
    )


def run(arguments: argparse.Namespace) -> int:
    scenario = scenario_from_arguments(arguments)
    prediction = predict(scenario)
    run_dir = create_run_dir(arguments.reports, "herd-model")
    written = write_herd_reports(prediction, run_dir)
    print("\n".join(summary_lines(prediction)))
    print()
    for kind, path in written.items():
        print(f"  {kind}: {path}")
    print(f"  (the same under {arguments.reports}/latest/)")
    return 0
