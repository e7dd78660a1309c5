"""RFC 3030 CHUNKING: the BDAT command's arguments and what the receiver answers besides faults.

A sender offered CHUNKING may send the message as `BDAT <size> [LAST]` commands, each followed
by exactly `size` octets, instead of DATA and a dot-terminated body (Exim does whenever it is
offered, `hosts_try_chunking = *`; Postfix's client never does). The receiver must read every
chunk it is sent, even one it refuses, or the next command would be read from the middle of the
message (RFC 3030 section 2: after a failed chunk the server "MUST be prepared to accept and
discard additional BDAT chunks already in the pipeline"). The session (`session.py`) decides
each chunk with the plan (stage `bdat`) and hands the last one to end-of-data (stage `eod`),
so a fault at end-of-data is the same fault whether the message came by DATA or by BDAT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ARGUMENTS = re.compile(r"^(?P<size>\d{1,18})(?: +(?P<last>LAST))? *$", re.IGNORECASE)


def chunk_accepted(size: int) -> str:
    """The reply to a chunk that was read while more are to come (RFC 3030's own wording)."""
    return f"250 2.0.0 {size} octets received"


SYNTAX_ERROR = "501 5.5.4 Syntax: BDAT chunk-size [LAST]"
NO_TRANSACTION = "503 5.5.1 Error: BDAT needs EHLO, MAIL and RCPT first"
AFTER_FAILED_CHUNK = "503 5.5.1 Error: an earlier chunk of this transaction failed; chunk discarded"
NOT_OFFERED = "502 5.5.1 Error: CHUNKING is not offered"
TOO_MUCH = "552 5.3.4 Error: too much mail data"


@dataclass(frozen=True)
class BdatArguments:
    """`BDAT <size> [LAST]`."""

    size: int
    last: bool


def parse_bdat(arg: str | None) -> BdatArguments | None:
    """The command's arguments, or None when they are malformed (then the chunk's size is not
    known and nothing can be consumed: the session answers 501)."""
    found = _ARGUMENTS.match((arg or "").strip())
    if found is None:
        return None
    return BdatArguments(int(found.group("size")), found.group("last") is not None)
