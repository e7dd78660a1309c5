"""A stall that holds the sender: messages kept from the receiver count as meeting the fault.

nullmailer delivers one message at a time; in `outage-72h-blackhole` its second session on the
first message was never greeted and never ended (nullmailer waited on it without a timeout), so
the second and third messages, sent at 24 h and 48 h, never reached the receiver. They met the
outage through the sender being held by it. A sender whose every message had a session of its
own is counted on its firings alone, and nothing is credited that the sessions do not show.
"""

from __future__ import annotations

from harness.cases.exercise import held_behind_stalls, not_exercised, rule_exercise
from harness.ledger import CaseEvidence
from harness.results import Attempt
from harness.scenarios import load_catalogue

HOUR = 3600.0
BLACKHOLE = next(s for s in load_catalogue() if s.id == "outage-72h-blackhole")
INJECTED = [0.0, 24 * HOUR, 48 * HOUR]
OBSERVED = 96 * HOUR


def evidence(*sessions: tuple[float, float | None]) -> CaseEvidence:
    """Sessions (start, end) the greeting stall took; end None: still open when observed."""
    attempts = tuple(
        Attempt(t=t, stage="greeting", reply=None, duration=(end or OBSERVED) - t)
        for t, end in sessions
    )
    return CaseEvidence((), attempts, (), (), (), observed_for=OBSERVED, rule_firings={0: 2})


def test_messages_sent_while_the_sender_waits_on_a_stalled_session_were_held() -> None:
    # The first session timed out after an hour (sendtimeout); the second never ended.
    found = evidence((90.0, 3680.0), (3745.0, None))
    held = held_behind_stalls(BLACKHOLE, found, INJECTED)
    assert held == {0: 2}
    [fault] = rule_exercise(BLACKHOLE, found.rule_firings, held)
    assert (fault.fired, fault.held, fault.needed) == (2, 2, 3)
    assert fault.exercised
    assert not_exercised([fault]) is None


def test_a_message_with_a_session_of_its_own_is_not_counted_as_held() -> None:
    # A parallel sender: every message got its own stalled session, so none was held.
    found = evidence((90.0, None), (24 * HOUR + 60, None), (48 * HOUR + 60, None))
    assert held_behind_stalls(BLACKHOLE, found, INJECTED) == {}
    # Only the second had one: the third is the one message that may have been held.
    found = evidence((90.0, None), (24 * HOUR + 60, None))
    assert held_behind_stalls(BLACKHOLE, found, INJECTED) == {0: 1}


def test_no_session_still_open_holds_nothing_and_the_shortfall_is_an_error() -> None:
    found = evidence((90.0, 3680.0), (3745.0, 7345.0))
    assert held_behind_stalls(BLACKHOLE, found, INJECTED) == {}
    [fault] = rule_exercise(BLACKHOLE, found.rule_firings)
    error = not_exercised([fault])
    assert error is not None
    assert "fired 2 time(s), the scenario needs 3" in error
