"""Stateful patterns and every match condition, driven by a real smtplib client.

Time-based cases run at a high time scale so hours of plan time pass in a fraction of a second;
where a test needs plan time to pass it polls the receiver with a bound, it never sleeps blindly.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

import pytest

from harness import new_message_id, sender_address
from harness.pytest_plugin import ReceiverFactory
from harness.receiver import Receiver, Stage, parse_plan
from tests.smtp_probe import Probe, message


def send(
    receiver: Receiver, sender: str, recipients: list[str], body: bytes = b""
) -> dict[str, int]:
    """Send one message: the reply code per recipient (end-of-data's for accepted ones), or
    `{"MAIL": code}` when the sender is refused."""
    codes: dict[str, int] = {}
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        client.ehlo("client.test")
        mail_code, _ = client.mail(sender)
        if mail_code >= 400:
            return {"MAIL": mail_code}
        for recipient in recipients:
            codes[recipient] = client.rcpt(recipient)[0]
        if any(code == 250 for code in codes.values()):
            code, _ = client.data(body or message("ms" + "0" * 32))
            codes = {r: (code if c == 250 else c) for r, c in codes.items()}
    return codes


def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Bounded polling: return once `condition()` holds, fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def test_first_n_attempts_fail_then_accept(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "rcpt"\nmessage_attempt = "1-2"\nreply = "451 4.3.0 later"')
    )
    message_id = new_message_id()
    sender = sender_address(message_id, "bounces.test")
    outcomes = [send(receiver, sender, ["a@r.test"])["a@r.test"] for _ in range(4)]
    assert outcomes == [451, 451, 250, 250]
    other = sender_address(new_message_id(), "bounces.test")
    assert send(receiver, other, ["a@r.test"])["a@r.test"] == 451  # counted per message


def test_pair_attempts_count_per_sender_and_recipient(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "rcpt"\npair_attempt = 1\nreply = "450 4.2.0 first time"')
    )
    assert send(receiver, "s@c.test", ["a@r.test", "b@r.test"]) == {
        "a@r.test": 450,
        "b@r.test": 450,
    }
    assert send(receiver, "s@c.test", ["a@r.test", "c@r.test"]) == {
        "a@r.test": 250,
        "c@r.test": 450,
    }
    assert send(receiver, "other@c.test", ["a@r.test"]) == {"a@r.test": 450}


def test_greylisting_per_triplet_with_minimum_delay(receiver_factory: ReceiverFactory) -> None:
    # 5 real minutes at scale 600 are 0.5 s on the wall.
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "rcpt"\ngreylist = "5m"\nreply = "451 4.7.1 greylisted"'),
        time_scale=600,
    )
    first_try = time.monotonic()
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 451}
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 451}  # too early
    accepted: list[float] = []

    def retried_and_accepted() -> bool:
        if send(receiver, "s@c.test", ["a@r.test"])["a@r.test"] == 250:
            accepted.append(time.monotonic())
        return bool(accepted)

    until(retried_and_accepted, what="the greylisted triplet to be accepted")
    assert accepted[0] - first_try >= 0.5
    # A new triplet (other recipient) is greylisted on its own, even now.
    assert send(receiver, "s@c.test", ["b@r.test"]) == {"b@r.test": 451}


def test_phase_421_for_72_hours_then_250(receiver_factory: ReceiverFactory) -> None:
    # 72 h at scale 518400 are 0.5 s on the wall.
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "rcpt"\nbefore = "72h"\nreply = "421 4.3.2 down for now"'),
        time_scale=72 * 3600 / 0.5,
    )
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 421}
    until(
        lambda: send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 250},
        what="the 72 h phase to end",
    )


def test_window_after_applies_only_later(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "mail"\nafter = "1h"\nreply = "550 5.7.1 closed now"'),
        time_scale=3600 / 0.3,
    )
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 250}
    until(
        lambda: send(receiver, "s@c.test", ["a@r.test"]) == {"MAIL": 550},
        what="the window to open",
    )


def test_admission_control_421_above_n_sessions(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "greeting"\nsessions_above = 3\nreply = "421 4.7.0 too many"')
    )
    held = [Probe(receiver.host, receiver.port) for _ in range(3)]
    try:
        assert [probe.step(Stage.GREETING).code for probe in held] == [220, 220, 220]
        with Probe(receiver.host, receiver.port) as fourth:
            assert fourth.step(Stage.GREETING).code == 421
        held.pop().close()
        until(lambda: receiver.open_sessions == 2, what="the receiver to see two open sessions")
        with Probe(receiver.host, receiver.port) as again:
            assert again.step(Stage.GREETING).code == 220
    finally:
        for probe in held:
            probe.close()


def test_per_client_admission_421s_one_address_and_admits_the_others(
    receiver_factory: ReceiverFactory,
) -> None:
    """Two sessions per client address: the third from 127.0.0.2 gets 421 while 127.0.0.3 is
    admitted, and 127.0.0.2 is admitted again once one of its sessions ended."""
    receiver = receiver_factory(
        parse_plan(
            '[[rule]]\nstage = "greeting"\nclient_sessions_above = 2\n'
            'reply = "421 4.7.0 too many connections from your address"'
        )
    )
    held = [Probe(receiver.host, receiver.port, source="127.0.0.2") for _ in range(2)]
    try:
        assert [probe.step(Stage.GREETING).code for probe in held] == [220, 220]
        with Probe(receiver.host, receiver.port, source="127.0.0.2") as third:
            assert third.step(Stage.GREETING).code == 421
        with Probe(receiver.host, receiver.port, source="127.0.0.3") as neighbour:
            assert neighbour.step(Stage.GREETING).code == 220
        held.pop().close()
        until(lambda: receiver.open_sessions == 1, what="the receiver to see one open session")
        with Probe(receiver.host, receiver.port, source="127.0.0.2") as again:
            assert again.step(Stage.GREETING).code == 220
    finally:
        for probe in held:
            probe.close()


def greeting_codes(receiver: Receiver, sessions: int) -> list[int]:
    codes = []
    for _ in range(sessions):
        with Probe(receiver.host, receiver.port) as probe:
            codes.append(probe.step(Stage.GREETING).code)
    return codes


def test_probability_is_seeded_and_replayable(receiver_factory: ReceiverFactory) -> None:
    def plan(seed: int) -> str:
        rule = 'stage = "greeting"\nprobability = 0.5\nreply = "421 4.3.0 maybe"'
        return f"seed = {seed}\n[[rule]]\n{rule}"

    first = greeting_codes(receiver_factory(parse_plan(plan(7))), 40)
    again = greeting_codes(receiver_factory(parse_plan(plan(7))), 40)
    other = greeting_codes(receiver_factory(parse_plan(plan(8))), 40)
    assert first == again
    assert first != other
    assert 8 <= first.count(421) <= 32  # a fair coin, 40 throws


def test_listener_condition_selects_one_listener(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan(
            '[[rule]]\nstage = "greeting"\nlistener = "backup"\nreply = "554 5.3.2 not here"'
        ),
        listen=["main=127.0.0.1:0", "backup=127.0.0.1:0"],
    )
    main, backup = receiver.listener("main"), receiver.listener("backup")
    assert main.port != backup.port
    with Probe(main.host, main.port) as probe:
        assert probe.step(Stage.GREETING).code == 220
    with Probe(backup.host, backup.port) as probe:
        assert probe.step(Stage.GREETING).code == 554
    by_address = receiver_factory(
        parse_plan(
            f'[[rule]]\nstage = "greeting"\nlistener = "*:{backup.port + 0}"\nreply = "554 5.3.2 x"'
        ),
    )
    with Probe(by_address.host, by_address.port) as probe:
        assert probe.step(Stage.GREETING).code == 220  # another port: the rule does not match


@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        ('client = "127.0.0.1"', True),
        ('client = "10.*"', False),
        ('client = ["10.*", "127.*"]', True),
        ('helo = "client.test"', True),
        ('helo = { regex = "^other" }', False),
    ],
)
def test_client_and_helo_conditions(
    receiver_factory: ReceiverFactory, condition: str, matches: bool
) -> None:
    receiver = receiver_factory(
        parse_plan(f'[[rule]]\nstage = "mail"\n{condition}\nreply = "550 5.7.1 matched"')
    )
    with Probe(receiver.host, receiver.port) as probe:
        assert probe.until(Stage.MAIL).code == (550 if matches else 250)


@pytest.mark.parametrize(
    ("condition", "codes"),
    [
        ('recipient = "bad@r.test"', {"bad@r.test": 550, "Good@r.test": 250}),
        ('recipient = "BAD@R.TEST"', {"bad@r.test": 550, "Good@r.test": 250}),
        ('recipient = { regex = "^g" }', {"bad@r.test": 250, "Good@r.test": 550}),
        ('recipient_domain = "r.test"', {"bad@r.test": 550, "Good@r.test": 550}),
        ('recipient_domain = "*.other"', {"bad@r.test": 250, "Good@r.test": 250}),
        ('sender = "*@c.test"', {"bad@r.test": 550, "Good@r.test": 550}),
        ('sender = { regex = "^nobody@" }', {"bad@r.test": 250, "Good@r.test": 250}),
    ],
)
def test_sender_and_recipient_conditions(
    receiver_factory: ReceiverFactory, condition: str, codes: dict[str, int]
) -> None:
    receiver = receiver_factory(
        parse_plan(f'[[rule]]\nstage = "rcpt"\n{condition}\nreply = "550 5.1.1 <{{recipient}}> no"')
    )
    seen = send(receiver, "s@c.test", list(codes))
    assert seen == codes


def test_reply_text_names_the_recipient(receiver_factory: ReceiverFactory) -> None:
    """The Libero reply: 550 with the rejected address in the text."""
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "rcpt"\nreply = "550 5.1.1 <{recipient}> recipient rejected"')
    )
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        client.ehlo("client.test")
        client.mail("s@c.test")
        assert client.rcpt("user@libero.test") == (
            550,
            b"5.1.1 <user@libero.test> recipient rejected",
        )


def test_rules_are_tried_in_order(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan(
            '[[rule]]\nname = "vip"\nstage = "rcpt"\nrecipient = "vip@r.test"\naccept = true\n'
            '[[rule]]\nname = "rest"\nstage = "rcpt"\nreply = "450 4.2.0 busy"\n'
        )
    )
    assert send(receiver, "s@c.test", ["vip@r.test", "x@r.test"]) == {
        "vip@r.test": 250,
        "x@r.test": 450,
    }
    with receiver.journal() as journal:
        assert [event.text for event in journal.decisions()] == ["rule 1 'vip'", "rule 2 'rest'"]


def test_use_plan_switches_and_restarts_state(receiver_factory: ReceiverFactory) -> None:
    receiver = receiver_factory(
        parse_plan('[[rule]]\nstage = "rcpt"\npair_attempt = 1\nreply = "450 4.2.0 x"')
    )
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 450}
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 250}
    receiver.reset()
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 450}
    receiver.use_plan(parse_plan('[[rule]]\nstage = "rcpt"\nreply = "550 5.0.0 now"'))
    assert send(receiver, "s@c.test", ["a@r.test"]) == {"a@r.test": 550}
