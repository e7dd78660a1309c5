"""Delivery status notifications (RFC 3464), parsed from the bounces that reach the receiver.

A DSN is evidence twice over: it says what the sender MTA concluded (Action, Status, the remote
reply it quotes in Diagnostic-Code, how long it will retry) and whether it said so correctly.
So parsing never fails on a malformed report: it returns what it could read plus the list of
RFC 3464 problems found, and the conformance checks decide what those problems mean.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from harness.message_ids import id_from_content

_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_REPLY_CODE = re.compile(r"\b([245]\d\d)\b")
ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of the report."""

    final_recipient: str
    action: str  #: failed, delayed, delivered, relayed or expanded (lower case)
    status: str  #: the enhanced status code, e.g. 5.1.1
    original_recipient: str | None = None
    remote_mta: str | None = None
    diagnostic_type: str | None = None  #: e.g. smtp
    diagnostic_text: str | None = None  #: the remote reply, e.g. 550 5.1.1 <u@x> rejected
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None

    @property
    def remote_reply_code(self) -> int | None:
        """The basic reply code the remote server gave, read from Diagnostic-Code."""
        if not self.diagnostic_text:
            return None
        found = _REPLY_CODE.search(self.diagnostic_text)
        return int(found.group(1)) if found else None


@dataclass(frozen=True)
class DeliveryReport:
    """A parsed DSN: per-message fields, per-recipient blocks, and what is wrong with it."""

    recipients: tuple[RecipientStatus, ...]
    reporting_mta: str | None
    arrival_date: datetime | None
    original_envelope_id: str | None
    original_message_id: str | None  #: the harness id of the message reported on
    subject: str
    problems: tuple[str, ...]  #: RFC 3464 deviations; empty for a well-formed report

    @property
    def well_formed(self) -> bool:
        return not self.problems

    def for_recipient(self, address: str) -> RecipientStatus | None:
        for recipient in self.recipients:
            if recipient.final_recipient.lower() == address.lower():
                return recipient
        return None


def parse_dsn(content: bytes) -> DeliveryReport:
    """Parse a bounce; never raises for a malformed one (see `DeliveryReport.problems`)."""
    message = email.message_from_bytes(content, policy=email.policy.compat32)
    problems: list[str] = []
    if message.get_content_type() != "multipart/report":
        problems.append(f"top-level type is {message.get_content_type()}, not multipart/report")
    elif str(message.get_param("report-type") or "").lower() != "delivery-status":
        problems.append("multipart/report without report-type=delivery-status")
    status_part = _find_part(message, "message/delivery-status")
    blocks: list[Message] = []
    if status_part is None:
        problems.append("no message/delivery-status part")
    else:
        payload = status_part.get_payload()
        if isinstance(payload, list):
            blocks = [block for block in payload if isinstance(block, Message)]
    per_message = blocks[0] if blocks else Message()
    recipients = tuple(_recipient(block, problems) for block in blocks[1:])
    if status_part is not None and not recipients:
        problems.append("no per-recipient fields in the delivery-status part")
    if status_part is not None and not per_message.get("Reporting-MTA"):
        problems.append("per-message field Reporting-MTA is missing")
    return DeliveryReport(
        recipients=recipients,
        reporting_mta=_typed_value(per_message.get("Reporting-MTA")),
        arrival_date=_date(per_message.get("Arrival-Date")),
        original_envelope_id=_clean(per_message.get("Original-Envelope-Id")),
        original_message_id=id_from_content(content),
        subject=str(message.get("Subject", "")),
        problems=tuple(problems),
    )


def _recipient(block: Message, problems: list[str]) -> RecipientStatus:
    final = _typed_value(block.get("Final-Recipient"))
    action = (_clean(block.get("Action")) or "").lower()
    status = (_clean(block.get("Status")) or "").split(" ")[0]
    if not final:
        problems.append("a recipient block has no Final-Recipient")
    if action not in ACTIONS:
        problems.append(f"Action {action!r} is not one of {', '.join(sorted(ACTIONS))}")
    if not _STATUS.match(status):
        problems.append(f"Status {status!r} is not an enhanced status code")
    diagnostic = _clean(block.get("Diagnostic-Code"))
    diagnostic_type, _, diagnostic_text = (diagnostic or "").partition(";")
    return RecipientStatus(
        final_recipient=final or "",
        action=action,
        status=status,
        original_recipient=_typed_value(block.get("Original-Recipient")),
        remote_mta=_typed_value(block.get("Remote-MTA")),
        diagnostic_type=diagnostic_type.strip().lower() or None,
        diagnostic_text=" ".join(diagnostic_text.split()) or None,
        last_attempt=_date(block.get("Last-Attempt-Date")),
        will_retry_until=_date(block.get("Will-Retry-Until")),
    )


def _find_part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _typed_value(value: object) -> str | None:
    """`rfc822; user@x` -> `user@x` (the address type is dropped, as every reader does)."""
    text = _clean(value)
    if text is None:
        return None
    return text.partition(";")[2].strip() if ";" in text else text


def _date(value: object) -> datetime | None:
    text = _clean(value)
    if text is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
