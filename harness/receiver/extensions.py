"""The receiver's ESMTP face: which extensions its EHLO reply offers, and RFC 2034's codes.

A sender talks differently to a server that offers PIPELINING (it sends MAIL, RCPT and DATA
without waiting, and can then not send a 452's left-over recipients in the same session) or
ENHANCEDSTATUSCODES, so a receiver that offered less than a real MX would measure a sender that
never meets the Internet. The plan chooses the extensions (`FaultPlan.capabilities`); this module
turns them into the EHLO lines and, when ENHANCEDSTATUSCODES is offered, gives every 2xx, 4xx
and 5xx reply an enhanced code, as RFC 2034 section 4 requires of a server that offers it (the
greeting and the EHLO/HELO reply excepted). aiosmtpd's own replies ("250 OK", "221 Bye",
"503 Error: need MAIL command") have none.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from harness.receiver.plan import Capability

#: The EHLO keyword of each extension, in the order the reply lists them.
_KEYWORDS = (
    (Capability.PIPELINING, "PIPELINING"),
    (Capability.SIZE, "SIZE"),
    (Capability.EIGHTBITMIME, "8BITMIME"),
    (Capability.ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES"),
    (Capability.SMTPUTF8, "SMTPUTF8"),
    (Capability.CHUNKING, "CHUNKING"),
)
#: A reply line that already carries an enhanced code (RFC 3463: class.subject.detail).
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}(?: |$)")
_REPLY_LINE = re.compile(r"^(?P<code>[245]\d\d)(?P<sep>[ -])(?P<text>.*)$", re.DOTALL)
#: The enhanced code for aiosmtpd's own replies, by basic code (RFC 3463 subjects), else X.0.0.
_DEFAULT_ENHANCED = {
    221: "2.0.0",
    250: "2.0.0",
    252: "2.0.0",
    421: "4.3.0",
    451: "4.3.0",
    500: "5.5.2",
    501: "5.5.4",
    502: "5.5.1",
    503: "5.5.1",
    504: "5.5.4",
    530: "5.7.0",
    552: "5.3.4",
    553: "5.1.3",
    554: "5.5.1",
}


def ehlo_lines(aiosmtpd_lines: Sequence[str], offered: Collection[Capability]) -> list[str]:
    """The EHLO reply: aiosmtpd's greeting line, the offered extensions, then HELP."""
    hello = aiosmtpd_lines[0].removeprefix("250-").removeprefix("250 ")
    keywords = [_size_line(aiosmtpd_lines) if c is Capability.SIZE else k for c, k in _KEYWORDS]
    chosen = [keyword for (c, _), keyword in zip(_KEYWORDS, keywords, strict=True) if c in offered]
    chosen = [keyword for keyword in chosen if keyword]
    body = [hello, *chosen, "HELP"]
    return [f"250{' ' if i == len(body) - 1 else '-'}{line}" for i, line in enumerate(body)]


def _size_line(aiosmtpd_lines: Sequence[str]) -> str:
    """aiosmtpd's SIZE line (it knows the limit it enforces), or a plain SIZE."""
    for line in aiosmtpd_lines:
        keyword = line[4:]
        if keyword.upper().startswith("SIZE"):
            return keyword
    return "SIZE"


def with_enhanced_code(reply: str) -> str:
    """`reply` with an enhanced code on every line that has none (RFC 2034 section 4)."""
    lines = reply.split("\r\n")
    out = []
    for line in lines:
        found = _REPLY_LINE.match(line)
        if found is None or _HAS_ENHANCED.match(line):
            out.append(line)
            continue
        code = int(found.group("code"))
        enhanced = _DEFAULT_ENHANCED.get(code, f"{code // 100}.0.0")
        text = found.group("text")
        out.append(f"{code}{found.group('sep')}{enhanced}{' ' + text if text else ''}")
    return "\r\n".join(out)
