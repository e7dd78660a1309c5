"""msmtp's own contract, in its container against the real receiver.

It delivers like every target (test_sender_targets.py). Like the no-queue application it makes
one attempt and holds nothing: a 450 or a refused connection is logged and nothing retries. Its
exit code, all the calling application learns, is EX_TEMPFAIL for a refused connection and
EX_UNAVAILABLE for a 4xx reply (EX_DATAERR for a 5xx).
Submissions return at once, as a web request does, so its sessions run while the harness goes on.
"""

from __future__ import annotations

import pytest

from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.targets import (
    REFUSED_FIELD,
    LogRecord,
    SenderTarget,
    Submission,
)
from harness.waiting import wait_until
from tests.targets.test_sender_targets import (
    DOMAIN,
    TIME_SCALE,
    assert_one_attempt_and_nothing_after,
    journal_summary,
    refusing_routes,
    start,
)

pytestmark = pytest.mark.docker
NAME = "msmtp"


def outcomes(target: SenderTarget, *sent: Submission) -> list[LogRecord]:
    """The log lines of the `sent` messages once no msmtp runs any more (before: none)."""
    # [m]: the pattern does not match the shell that runs pgrep, whose command line holds it
    if target.exec("pgrep -x '[m]smtp' || true", check=False).split():
        return []
    senders = {s.sender for s in sent}
    return [r for r in target.logs() if r.queue_id in senders]


def test_a_450_is_logged_as_a_temporary_failure_and_never_retried(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    plan = f'[[rule]]\nstage = "rcpt"\nrecipient_domain = "{DOMAIN}"\nreply = "450 4.2.0 busy"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, NAME, plan)
    assert target.dns_not_applicable
    sent = target.submit([f"user@{DOMAIN}"])
    [outcome] = wait_until(
        lambda: outcomes(target, sent),
        timeout=60,
        what="msmtp's one attempt to end",
        seen=lambda: journal_summary(receiver),
    )
    # msmtp exits EX_UNAVAILABLE for a 4xx reply, EX_DATAERR for a 5xx, and EX_TEMPFAIL only
    # when it could not connect (src/smtp.c, smtp_send_envelope and smtp_exitcode).
    assert outcome.fields["exitcode"] == "EX_UNAVAILABLE"
    assert outcome.fields["smtpstatus"] == "450"
    assert "450 4.2.0 busy" in outcome.text
    assert outcome.fields["recipients"] == f"user@{DOMAIN}"
    # Its process has exited: nothing is left that could retry, hold or bounce the message.
    assert_one_attempt_and_nothing_after(receiver, target, sent)


def test_a_refused_connection_is_logged_as_one_refused_attempt(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    with refusing_routes(container_gateway) as routes:
        closed_port = routes.routes[0][1][0].port
        target = target_factory(NAME, routes, time_scale=TIME_SCALE)
        sent = target.submit([f"user@{DOMAIN}"])
        [outcome] = wait_until(lambda: outcomes(target, sent), timeout=60, what="the refusal")
    assert outcome.fields["exitcode"] == "EX_TEMPFAIL"
    assert outcome.fields.get(REFUSED_FIELD[0]) == REFUSED_FIELD[1], outcome.raw
    assert f"port {closed_port}: Connection refused" in outcome.text
