"""A receiver whose SMTP service is down while its host is up: connections refused, then open."""

from __future__ import annotations

import math
import socket
import time
from pathlib import Path

import pytest

from harness import Receiver
from harness.errors import ListenError
from harness.receiver import Stage
from tests.smtp_probe import Probe


def reachable(receiver: Receiver, name: str = "primary") -> bool:
    """Whether the listener `name` accepts a connection (the only one's name is "primary")."""
    bound = receiver.listener(name)
    try:
        socket.create_connection((bound.host, bound.port), timeout=2).close()
    except ConnectionRefusedError:
        return False
    return True


def test_refuses_until_the_outage_ends_then_serves(tmp_path: Path) -> None:
    # 72 real hours at this scale last 0.4 s on the wall.
    scale = 72 * 3600 / 0.4
    with Receiver(journal=tmp_path / "j.sqlite", time_scale=scale, refuse_until=72 * 3600) as rx:
        started = time.monotonic()
        assert not reachable(rx)
        deadline = started + 10
        while not reachable(rx):
            assert time.monotonic() < deadline, "the receiver never opened"
            time.sleep(0.02)
        assert time.monotonic() - started >= 0.4 - 0.002
        with Probe(rx.host, rx.port) as probe:
            assert probe.until(Stage.QUIT).code == 221


def test_refuses_for_ever(tmp_path: Path) -> None:
    with Receiver(journal=tmp_path / "j.sqlite", refuse_until=math.inf) as rx:
        assert not reachable(rx)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((rx.host, rx.port), timeout=2)
        assert rx.port > 0


def test_reset_restarts_the_refusal_window(tmp_path: Path) -> None:
    scale = 3600 / 0.5  # one real hour lasts half a second
    with Receiver(journal=tmp_path / "j.sqlite", time_scale=scale, refuse_until=3600) as rx:
        for _ in range(3):  # reset three times, each before the window ends
            time.sleep(0.3)
            rx.reset()
        restarted = time.monotonic()
        assert not reachable(rx)  # 0.9 s after start: still closed, the window restarted
        while not reachable(rx):
            assert time.monotonic() < restarted + 10, "the receiver never opened"
            time.sleep(0.02)
        assert time.monotonic() - restarted >= 0.5 - 0.002


def test_a_window_from_reset_waits_for_the_first_reset(tmp_path: Path) -> None:
    """A matrix case's receiver starts long before its first message: its refusal must count
    from that message (the first reset), not from the start, or it has ended before anything
    was sent (Exim's `outage-72h-refused` in a run of nine columns did)."""
    scale = 3600 / 0.3  # one real hour lasts 0.3 s
    with Receiver(
        journal=tmp_path / "j.sqlite", time_scale=scale, refuse_until=3600, windows_from_reset=True
    ) as rx:
        time.sleep(0.6)  # twice the window passes before the case's first message
        assert not reachable(rx)
        rx.reset()
        reset = time.monotonic()
        assert not reachable(rx)
        while not reachable(rx):
            assert time.monotonic() < reset + 10, "the receiver never opened"
            time.sleep(0.02)
        assert time.monotonic() - reset >= 0.3 - 0.002


def test_refusals_per_listener(tmp_path: Path) -> None:
    """One MX host refuses for ever, one until its outage ends, one answers throughout."""
    scale = 3600 / 0.4  # one real hour lasts 0.4 s
    listen = ["down=127.0.0.1:0", "later=127.0.0.1:0", "up=127.0.0.1:0"]
    refusals = {"down": math.inf, "later": 3600.0}
    with Receiver(
        journal=tmp_path / "j.sqlite", listen=listen, time_scale=scale, refusals=refusals
    ) as rx:
        started = time.monotonic()
        assert reachable(rx, "up")
        assert not reachable(rx, "later")
        assert not reachable(rx, "down")
        while not reachable(rx, "later"):
            assert time.monotonic() < started + 10, "the listener never opened"
            time.sleep(0.02)
        assert time.monotonic() - started >= 0.4 - 0.002
        assert not reachable(rx, "down")
        with Probe(rx.listener("later").host, rx.listener("later").port) as probe:
            assert probe.until(Stage.QUIT).code == 221


def test_a_refusal_for_no_listener_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ListenError, match=r"refusal for no listener: mx9 \(listeners: primary\)"):
        Receiver(journal=tmp_path / "j.sqlite", refusals={"mx9": math.inf}).start()
