"""Harness message identifiers: how a message injected by mailstorm is recognised later.

Every injected message carries its id twice so that any single surviving trace joins it back:
in the `X-Mailstorm-Id` header (also quoted inside the DSNs that come back) and in the envelope
sender's local part (`mailstorm+<id>@domain`, so bounces arrive addressed to the id: VERP).
"""

from __future__ import annotations

import re
import uuid

HEADER = "X-Mailstorm-Id"
SENDER_LOCAL_PREFIX = "mailstorm+"

_ID = r"ms[0-9a-f]{32}"
_ID_RE = re.compile(rf"^{_ID}$")
_ADDRESS_TAG_RE = re.compile(rf"\+({_ID})@", re.IGNORECASE)
_HEADER_RE = re.compile(rb"^" + HEADER.encode() + rb":[ \t]*(" + _ID.encode() + rb")", re.I | re.M)


def new_message_id() -> str:
    """A fresh id: 'ms' and 32 hex digits, safe in a local part and in a header."""
    return "ms" + uuid.uuid4().hex


def is_message_id(text: str) -> bool:
    return bool(_ID_RE.match(text))


def sender_address(message_id: str, domain: str) -> str:
    """The envelope sender that carries `message_id` and routes bounces to `domain`."""
    return f"{SENDER_LOCAL_PREFIX}{message_id}@{domain}"


def id_from_address(address: str) -> str | None:
    """The id tagged into an address (`…+ms…@…`), or None."""
    match = _ADDRESS_TAG_RE.search(address)
    return match.group(1).lower() if match else None


def id_from_content(content: bytes) -> str | None:
    """The first `X-Mailstorm-Id` header in a message, including one quoted inside a DSN."""
    match = _HEADER_RE.search(content)
    return match.group(1).decode("ascii").lower() if match else None
