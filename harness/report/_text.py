"""Text that is safe to put in any report format.

Replies and journal lines come from the wire: they may hold control characters that XML 1.0
forbids outright and that would garble a terminal or a Markdown table. They are shown, not
dropped, as `\\xNN` escapes, so the evidence stays visible.
"""

from __future__ import annotations

import re

# Characters XML 1.0 does not allow (and that no report wants raw): C0 controls except tab and
# newline, carriage return (normalised away by XML parsers), lone surrogates, U+FFFE/U+FFFF.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """`text` with control characters (other than tab and newline) shown as `\\xNN` escapes."""
    return _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
