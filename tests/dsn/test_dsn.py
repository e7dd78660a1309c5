"""RFC 3464 parsing, on DSNs real MTAs sent (captured in samples/) and on broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.dsn import parse_dsn

SAMPLES = Path(__file__).parent / "samples"


@pytest.mark.parametrize(
    ("sample", "recipient", "status", "reply"),
    [
        ("postfix-rcpt-550.eml", "gone@receiver.test", "5.1.1", 550),
        ("postfix-eod-554.eml", "ok@receiver.test", "5.6.0", 554),
    ],
)
def test_real_dsns_parse_without_problems(
    sample: str, recipient: str, status: str, reply: int
) -> None:
    report = parse_dsn((SAMPLES / sample).read_bytes())
    assert report.problems == ()
    [block] = report.recipients
    assert (block.final_recipient, block.action, block.status) == (recipient, "failed", status)
    assert block.remote_reply_code == reply
    assert block.diagnostic_type == "smtp"
    assert report.for_recipient(recipient.upper()) == block
    assert report.original_message_id is not None
    assert report.original_message_id.startswith("ms")
    assert report.reporting_mta == "sender.mailstorm.test"


def multipart_report(status_part: str, report_type: str = "delivery-status") -> bytes:
    return (
        "From: MAILER-DAEMON@x.test\r\nSubject: Delayed Mail\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n"
        f"--B\r\nContent-Type: message/delivery-status\r\n\r\n{status_part}\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "X-Mailstorm-Id: ms0123456789abcdef0123456789abcdef\r\n--B--\r\n"
    ).encode()


def test_delayed_report_with_retry_until() -> None:
    report = parse_dsn(
        multipart_report(
            "Reporting-MTA: dns; x.test\r\nOriginal-Envelope-Id: env-1\r\n\r\n"
            "Final-Recipient: rfc822; u@r.test\r\nAction: delayed\r\nStatus: 4.2.0\r\n"
            "Diagnostic-Code: smtp; 450 4.2.0\r\n busy, continued line\r\n"
            "Last-Attempt-Date: Tue, 24 Nov 2026 02:00:00 +0000\r\n"
            "Will-Retry-Until: Sat, 28 Nov 2026 02:00:00 +0000\r\n"
        )
    )
    assert report.problems == ()
    [block] = report.recipients
    assert (block.action, block.status, block.remote_reply_code) == ("delayed", "4.2.0", 450)
    assert block.diagnostic_text == "450 4.2.0 busy, continued line"
    assert block.will_retry_until is not None
    assert block.last_attempt is not None
    assert (block.will_retry_until - block.last_attempt).days == 4
    assert report.original_envelope_id == "env-1"
    assert report.original_message_id == "ms0123456789abcdef0123456789abcdef"


GOOD_MESSAGE = "Reporting-MTA: dns; x.test"
GOOD_RECIPIENT = "Final-Recipient: rfc822; u@r.test\r\nAction: failed\r\nStatus: 5.0.0"


def status(per_message: str = GOOD_MESSAGE, recipient: str = GOOD_RECIPIENT) -> str:
    return f"{per_message}\r\n\r\n{recipient}" if recipient else per_message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"From: a@b\r\nSubject: plain\r\n\r\nyour mail bounced\r\n", "not multipart/report"),
        (multipart_report(status(), "disposition-notification"), "report-type=delivery-status"),
        (
            multipart_report(status(recipient="Action: failed\r\nStatus: 5.0.0")),
            "no Final-Recipient",
        ),
        (
            multipart_report(status(recipient=GOOD_RECIPIENT.replace("failed", "bounced"))),
            "Action 'bounced'",
        ),
        (
            multipart_report(status(recipient=GOOD_RECIPIENT.replace("5.0.0", "550"))),
            "Status '550'",
        ),
        (multipart_report(status(per_message="Arrival-Date: today")), "Reporting-MTA is missing"),
        (multipart_report(status(recipient="")), "no per-recipient fields"),
    ],
)
def test_malformed_reports_list_their_problems(content: bytes, problem: str) -> None:
    report = parse_dsn(content)
    assert any(problem in text for text in report.problems), report.problems
    assert not report.well_formed
