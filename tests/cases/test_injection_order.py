"""Messages go out when their scenario says, however many cases are being started.

A submission is a `docker exec` (about 0.13 s), so starting hundreds of cases takes a minute,
while at k = 1440 an outage replay's second message falls due 60 wall seconds after its case
started. The engine's injection pass must hand a started case its due message before it goes on
starting the others. The sender here is a stand-in whose submission takes the time a real one
does: what is tested is the engine's order, which a real run shows only with hundreds of
containers' worth of cases (the 385-cell reference did: `injected_t` 30.9 h for 24 h).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, cast

from harness.cases.engine import _Case, _inject_all_due, _observe
from harness.errors import MailstormError
from harness.ledger import Ledger
from harness.receiver import Receiver
from harness.scenarios import load_catalogue, select
from harness.targets import SenderTarget, Submission

#: What one submission costs (a real `docker exec` of sendmail: 0.11-0.15 s measured).
SUBMIT_SECONDS = 0.05


class Sender:
    """Records when each message was handed over; each hand-over takes SUBMIT_SECONDS."""

    def __init__(self) -> None:
        self.handed: list[tuple[str, float]] = []

    def submit(self, recipients: list[str], **_: Any) -> Submission:
        time.sleep(SUBMIT_SECONDS)  # the cost being modelled, not a synchronisation
        now = time.monotonic()
        self.handed.append((recipients[0], now))
        return Submission(
            f"ms{len(self.handed)}", "s@b.test", tuple(recipients), time.time(), now, 1
        )


class Journal:
    def reset(self) -> None:
        """A receiver's plan clock restarts with the case's first message."""


def test_a_started_case_gets_its_due_message_before_more_cases_start(tmp_path: Path) -> None:
    [scenario] = select(load_catalogue(), ["outage-72h-451"])
    sender = Sender()
    # 20 cases; the second message of each is due 0.3 s after its first (starting all 20
    # takes 1 s): the first cases' second messages fall due while later cases still start.
    cases = [
        _Case(
            dataclasses.replace(scenario, id=f"case{n}"),
            cast(SenderTarget, sender),
            cast(Receiver, Journal()),
            Ledger(journal=tmp_path / "j", bounce_journal=tmp_path / "b", time_scale=1.0),
            1.0,
            [0.0, 0.3, 10.0],
        )
        for n in range(20)
    ]
    _inject_all_due(cases)
    for case in cases:
        assert len(case.sent) >= 1
    late = [(case.sent[1].mono - case.started) - 0.3 for case in cases if len(case.sent) >= 2]
    # Every started case whose second message fell due during the pass got it within a
    # submission or two of its due time, not at the end of the pass.
    assert len(late) >= 10, late
    assert max(late) <= 3 * SUBMIT_SECONDS, late


class BrokenSender:
    """A sender whose submission fails, as `docker exec` does when a container died."""

    name = "broken"

    def submit(self, recipients: list[str], **_: Any) -> Submission:
        raise MailstormError("the container is gone")


def test_a_case_whose_injection_failed_gets_its_progress_line(tmp_path: Path) -> None:
    [scenario] = select(load_catalogue(), ["outage-72h-451"])
    cases = [
        _Case(
            dataclasses.replace(scenario, id=f"case{n}"),
            cast(SenderTarget, BrokenSender()),
            cast(Receiver, Journal()),
            Ledger(journal=tmp_path / "j", bounce_journal=tmp_path / "b", time_scale=1.0),
            1.0,
            [0.0],
        )
        for n in range(3)
    ]
    lines: list[str] = []
    _observe(cases, lines.append)
    # the first case's pass injects all three: each failure is one line, none is lost
    assert sorted(line.split("] ")[1].split(":")[0] for line in lines) == [
        f"case{n} on broken" for n in range(3)
    ]
    assert all("error" in line for line in lines), lines


def test_cases_with_later_messages_start_after_every_single_message_case(tmp_path: Path) -> None:
    """Started last, an outage replay's later messages fall due once no case is starting."""
    [scenario] = select(load_catalogue(), ["outage-72h-451"])
    sender = Sender()

    def case(n: int, injections: list[float]) -> _Case:
        return _Case(
            dataclasses.replace(scenario, id=f"case{n}", recipients=(f"r{n}",)),
            cast(SenderTarget, sender),
            cast(Receiver, Journal()),
            Ledger(journal=tmp_path / "j", bounce_journal=tmp_path / "b", time_scale=1.0),
            1.0,
            injections,
        )

    # the catalogue's order: replays among single-message cases
    cases = [case(n, [0.0, 60.0] if n % 3 == 0 else [0.0]) for n in range(9)]
    _inject_all_due(cases)
    order = [recipient.split("@")[0] for recipient, _ in sender.handed]
    assert order == ["r1", "r2", "r4", "r5", "r7", "r8", "r0", "r3", "r6"]
