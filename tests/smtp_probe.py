"""A test-side SMTP client that walks a session stage by stage and reports what it saw.

Built on smtplib (a real client over real sockets); it turns smtplib's exceptions into plain
observations (a reply, the server closing, or no answer in time) so tests compare data.
"""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass

from harness import new_message_id, sender_address
from harness.receiver import Stage

ORDER = (Stage.GREETING, Stage.EHLO, Stage.MAIL, Stage.RCPT, Stage.DATA, Stage.EOD, Stage.QUIT)


@dataclass(frozen=True)
class Observed:
    """What the client saw at the stage it stopped at."""

    kind: str  #: "reply", "closed" (server hung up, no reply) or "timeout" (no answer)
    code: int = 0
    text: str = ""
    seconds: float = 0.0  #: wall time the stage took

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def message(message_id: str, body: str = "hello\r\n") -> bytes:
    return (
        f"From: sender@client.test\r\nTo: user@receiver.test\r\nSubject: probe\r\n"
        f"X-Mailstorm-Id: {message_id}\r\n\r\n{body}"
    ).encode()


class Probe:
    """Walks one SMTP session: `until(stage)` performs the stages in order up to `stage`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        recipient: str = "user@receiver.test",
        source: str | None = None,
    ) -> None:
        """`source`: the client's own address (a loopback 127.0.0.x), as many hosts would."""
        self.host = host
        self.port = port
        self.message_id = new_message_id()
        self.sender = sender_address(self.message_id, "bounces.test")
        self.recipient = recipient
        self.client = smtplib.SMTP(
            timeout=timeout, source_address=(source, 0) if source is not None else None
        )
        self.seen: dict[Stage, Observed] = {}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def until(self, stage: Stage, *, body: bytes | None = None) -> Observed:
        """Run the stages up to and including `stage`; stops early at a failure."""
        for step in ORDER[: ORDER.index(stage) + 1]:
            observed = self.step(step, body=body)
            self.seen[step] = observed
            if step is not stage and not (observed.kind == "reply" and observed.code < 400):
                return observed
        return self.seen[stage]

    def step(self, stage: Stage, *, body: bytes | None = None) -> Observed:
        started = time.monotonic()
        try:
            code, text = self._do(stage, body)
        except smtplib.SMTPConnectError as error:
            code, text = error.smtp_code, error.smtp_error
        except smtplib.SMTPServerDisconnected as error:
            # smtplib reports a read timeout as a disconnection: tell them apart.
            kind = "timeout" if "timed out" in str(error) else "closed"
            return Observed(kind, seconds=time.monotonic() - started)
        except (ConnectionResetError, BrokenPipeError):
            return Observed("closed", seconds=time.monotonic() - started)
        except TimeoutError:
            return Observed("timeout", seconds=time.monotonic() - started)
        decoded = text.decode() if isinstance(text, bytes) else str(text)
        return Observed("reply", code, decoded, time.monotonic() - started)

    def _do(self, stage: Stage, body: bytes | None) -> tuple[int, bytes | str]:
        client = self.client
        if stage is Stage.GREETING:
            return client.connect(self.host, self.port)
        if stage is Stage.EHLO:
            return client.ehlo("client.test")
        if stage is Stage.MAIL:
            return client.mail(self.sender)
        if stage is Stage.RCPT:
            return client.rcpt(self.recipient)
        if stage is Stage.DATA:
            return client.docmd("DATA")
        if stage is Stage.EOD:
            content = body if body is not None else message(self.message_id)
            client.send(content.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            return client.getreply()
        return client.docmd("QUIT")
