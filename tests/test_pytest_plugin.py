"""The pytest plugin, exercised the way users meet it: through pytester runs of test files."""

from __future__ import annotations

import pytest

RECEIVER_TESTS = """
import smtplib
import socket

import pytest

from harness import parse_plan

PORTS = []


@pytest.fixture
def receiver_plan():
    return parse_plan('[[rule]]\\nstage = "rcpt"\\nrecipient = "gone@*"\\nreply = "550 5.1.1 gone"')


def test_plan_override_is_used(receiver):
    PORTS.append(receiver.port)
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        client.ehlo("client.test")
        client.mail("s@c.test")
        assert client.rcpt("gone@r.test")[0] == 550
        assert client.rcpt("here@r.test")[0] == 250


def test_receiver_was_stopped_after_its_test():
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", PORTS[0]), timeout=5)


def test_factory_starts_more_receivers(receiver_factory, receiver):
    other = receiver_factory(listen=["a=127.0.0.1:0", "b=127.0.0.1:0"])
    assert len({receiver.port, other.listener("a").port, other.listener("b").port}) == 3


def test_time_scale_option(mailstorm_time_scale, receiver):
    assert mailstorm_time_scale == 60.0
    assert receiver.time_scale == 60.0
"""


def test_fixtures_with_command_line_time_scale(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECEIVER_TESTS)
    result = pytester.runpytest("--mailstorm-time-scale", "60")
    result.assert_outcomes(passed=4)


def test_time_scale_from_ini_and_command_line_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmailstorm_time_scale = 60\n")
    pytester.makepyfile(
        "def test_scale(mailstorm_time_scale):\n    assert mailstorm_time_scale == 60.0\n"
    )
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--mailstorm-time-scale", "5").assert_outcomes(failed=1)


def test_bad_time_scale_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_scale(receiver):\n    pass\n")
    result = pytester.runpytest("--mailstorm-time-scale", "0")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mailstorm time scale must be > 0*"])


def test_a_failing_expectation_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_expects_rejection_but_receiver_accepts(receiver):
            with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
                client.ehlo("client.test")
                client.mail("s@c.test")
                assert client.rcpt("u@r.test")[0] == 550
        """
    )
    pytester.runpytest().assert_outcomes(failed=1)


def test_listen_host_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_host(receiver):\n    assert receiver.host == '127.0.0.2'\n")
    pytester.runpytest("--mailstorm-listen-host", "127.0.0.2").assert_outcomes(passed=1)
