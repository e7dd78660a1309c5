"""Listening addresses: what the user asks for (`ListenSpec`) and what got bound (`BoundListener`).

Listeners have names so plans can address them even when their port is ephemeral: a test binds
`primary=127.0.0.1:0` and `secondary=127.0.0.1:0` and writes `listener = "secondary"` in a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import ListenError

_SPEC = re.compile(
    r"^(?:(?P<name>[A-Za-z][\w.-]*)=)?(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]\s]+)):(?P<port>\d+)$"
)


@dataclass(frozen=True)
class ListenSpec:
    host: str
    port: int
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> ListenSpec:
        """Parse `HOST:PORT`, `[IPv6]:PORT` or `NAME=HOST:PORT` (port 0: any free port)."""
        found = _SPEC.match(text.strip())
        if found is None:
            raise ListenError(
                f"listen address {text!r} is not HOST:PORT, [IPV6]:PORT or NAME=HOST:PORT"
            )
        port = int(found.group("port"))
        if port > 65535:
            raise ListenError(f"listen address {text!r}: port {port} is above 65535")
        host = found.group("v6") or found.group("host")
        return cls(host=host, port=port, name=found.group("name"))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        prefix = f"{self.name}=" if self.name else ""
        return f"{prefix}{host}:{self.port}"


@dataclass(frozen=True)
class BoundListener:
    """A socket the receiver listens on, with the port actually bound."""

    name: str
    host: str
    port: int

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.name}={self.address}"
