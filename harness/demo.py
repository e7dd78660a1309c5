"""The receiver demo: bundled fault plans against a sender that has no queue.

Until the compliance matrix runs real MTAs, this is the smallest honest picture of the problem:
an application that hands mail straight to SMTP and keeps no queue loses every message that is
not accepted at once, whether the receiver said 550 (Libero) or 451. The real MTAs in the matrix
are what turn a 451 into a retry; this demo is the control row they are compared against.
"""

from __future__ import annotations

import smtplib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from harness.message_ids import new_message_id, sender_address
from harness.receiver import FaultPlan, Receiver, load_plan, parse_plan

#: Where the demo's plans come from: `harness/demo_plans/*.toml`, in file-name order.
PLAN_PACKAGE = "harness.demo_plans"


@dataclass(frozen=True)
class DemoResult:
    plan: FaultPlan
    sent: int
    outcomes: Counter[str]  #: what the sender saw: accepted, temporary, permanent, dropped
    stored: int  #: messages the receiver's journal holds
    journal: Path


def bundled_plans() -> list[FaultPlan]:
    files = sorted(
        (
            entry
            for entry in resources.files(PLAN_PACKAGE).iterdir()
            if entry.name.endswith(".toml")
        ),
        key=lambda entry: entry.name,
    )
    return [parse_plan(entry.read_text(encoding="utf-8"), source=entry.name) for entry in files]


def plans_from(paths: Iterable[str | Path]) -> list[FaultPlan]:
    return [load_plan(path) for path in paths]


def send_without_queue(host: str, port: int, recipient: str) -> str:
    """One attempt, no retry, as an application with no queue sends: what it saw."""
    message_id = new_message_id()
    content = (
        f"From: app@sender.test\r\nTo: {recipient}\r\nSubject: demo\r\n"
        f"X-Mailstorm-Id: {message_id}\r\n\r\nhello\r\n"
    )
    try:
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.sendmail(sender_address(message_id, "sender.test"), [recipient], content)
    except smtplib.SMTPRecipientsRefused as error:
        [(code, _)] = error.recipients.values()
        return "temporary" if 400 <= code < 500 else "permanent"
    except smtplib.SMTPResponseException as error:
        return "temporary" if 400 <= error.smtp_code < 500 else "permanent"
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return "dropped"
    return "accepted"


def run_demo(
    plans: list[FaultPlan],
    run_dir: Path,
    *,
    messages: int = 10,
    progress: Callable[[str], None] = lambda line: None,
) -> list[DemoResult]:
    results = []
    for plan in plans:
        journal = run_dir / f"{plan.name}.journal.sqlite"
        with Receiver(plan, journal=journal) as receiver:
            outcomes = Counter(
                send_without_queue(receiver.host, receiver.port, f"user{n}@libero.test")
                for n in range(messages)
            )
            receiver.wait_idle()
            with receiver.journal() as reader:
                stored = len(reader.messages())
        results.append(DemoResult(plan, messages, outcomes, stored, journal))
        progress(f"  {plan.name:<22} {_describe(outcomes)}; receiver stored {stored}")
    return results


def _describe(outcomes: Counter[str]) -> str:
    order = ("accepted", "temporary", "permanent", "dropped")
    return ", ".join(f"{outcomes[kind]} {kind}" for kind in order if outcomes[kind])


def render_markdown(results: list[DemoResult]) -> str:
    lines = [
        "# mailstorm receiver demo",
        "",
        "A sender with no queue (one SMTP attempt per message, as many applications send) against",
        "the receiver under each plan. Whatever is not accepted at once is lost: this is the",
        "control row that real MTAs, which queue and retry, are measured against.",
        "",
        "| plan | sent | accepted | temporary (4xx) | permanent (5xx) | dropped | stored | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        o = result.outcomes
        lost = result.sent - result.stored
        lines.append(
            f"| {result.plan.name} | {result.sent} | {o['accepted']} | {o['temporary']} | "
            f"{o['permanent']} | {o['dropped']} | {result.stored} | {lost} |"
        )
    lines += ["", "Plans:", ""]
    lines += [f"- **{r.plan.name}**: {r.plan.description}" for r in results]
    return "\n".join(lines) + "\n"
