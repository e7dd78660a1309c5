"""The Locust user: one connection slot of an upstream MTA.

A slot takes the next due message from its process's source, delivers it in one SMTP session
(one message per connection, as `smtp-source` does by default), and settles it: delivered,
bounced on 5xx, or deferred on 4xx, timeout or connection trouble (re-queued after its sender
class's backoff, or expired past its give-up). Every phase of the session is one Locust request
(request type "SMTP", name = the phase) with its own latency; a failed phase is a failure
named by its reply code and enhanced code ("421 4.7.0"), "timeout" or the transport error.

A slot that Locust stops mid-session (the shape lowering the user count, or the end of the
run) finishes that session first and settles its message (`SmtpSession.run` defers the kill
until the session ends); one stopped while still connecting puts its message back (counted as
abandoned).
"""

from __future__ import annotations

from typing import Any

from gevent import GreenletExit
from locust import User, task
from locust.exception import StopUser

from harness.herd.run.load.herd_runtime import runtime_of
from harness.herd.run.load.message_source import Message, MessageSource
from harness.herd.run.load.smtp_session import (
    BOUNCED,
    DELIVERED,
    EOD,
    Envelope,
    SmtpFailure,
    SmtpSession,
    wire_content,
)

HELO = "slot.herd.mailstorm.test"


class SmtpSlot(User):
    """One connection slot: takes due messages and delivers each in its own session."""

    # No wait between tasks: the slot waits for its next due message instead.
    def wait_time(self) -> float:
        return 0.0

    @task
    def deliver(self) -> None:
        runtime = runtime_of(self.environment)
        source = runtime.source
        if source is None or runtime.address is None:
            raise StopUser()
        settings = runtime.settings
        fire = self.environment.events.request.fire
        body = wire_content("", settings.message_size).lstrip(b"\r\n")

        # Failures go to Locust as their label ("421 4.7.0"), not the exception: Locust groups
        # by repr(), which would read "SmtpFailure('421 4.7.0')".
        def report(phase: str, seconds: float, failure: SmtpFailure | None) -> None:
            fire(
                request_type="SMTP",
                name=phase,
                response_time=seconds * 1000.0,
                response_length=len(body) if phase == EOD else 0,
                exception=None if failure is None else str(failure),
                context=_NO_CONTEXT,
            )

        session = SmtpSession(
            runtime.address,
            helo=HELO,
            timeout=settings.timeout,
            report=report,
            pipelining=settings.pipelining,
            # one sending host per slot: its own client address when the run has a pool
            source=runtime.sources.take(runtime.share.index, runtime.share.count),
        )
        while True:
            message = source.take()
            headers = (
                f"From: <{message.sender}>\r\nTo: <{message.recipient}>\r\n"
                f"Subject: herd {message.id}\r\nMessage-ID: <{message.id}@herd.mailstorm.test>\r\n"
                f"X-Mailstorm-Id: {message.id}\r\n\r\n"
            )
            envelope = Envelope(message.sender, message.recipient, headers.encode() + body)
            try:
                outcome = session.run(envelope)
            except GreenletExit:
                # Stopped before a reply was awaited (while connecting): nothing was sent.
                source.abandon(message)
                raise
            _settle(source, message, outcome)
            if session.stop_requested:
                raise GreenletExit


def _settle(source: MessageSource, message: Message, outcome: str) -> None:
    if outcome == DELIVERED:
        source.delivered(message)
    elif outcome == BOUNCED:
        source.bounced(message)
    else:
        source.deferred(message)


_NO_CONTEXT: dict[str, Any] = {}
