"""Where a herd load test sends its mail, and the loopback guard.

Pure Python (no gevent, no asyncio): `mailstorm herd run` and the Locust side
(`harness.herd.run.load`) both parse targets here, so a remote target is refused the same way
whichever starts the run.
"""

from __future__ import annotations

import ipaddress
import socket

from harness.errors import HerdError


class LoadTargetError(HerdError):
    """A load target is malformed, cannot be resolved, or is remote without permission."""


def parse_target(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT` or `smtp://HOST:PORT` as (host, port)."""
    rest = text.strip()
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme.lower() != "smtp":
            raise LoadTargetError(f"target {text!r}: only smtp:// targets are supported")
        rest = rest.rstrip("/")
    if rest.startswith("["):
        host, _, port_text = rest[1:].partition("]:")
    else:
        host, _, port_text = rest.rpartition(":")
    if not host or not port_text:
        raise LoadTargetError(f"target {text!r}: expected HOST:PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise LoadTargetError(f"target {text!r}: port {port_text!r} is not a number") from None
    if not 0 < port < 65536:
        raise LoadTargetError(f"target {text!r}: port {port} is out of range")
    return host, port


def is_loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise LoadTargetError(f"target host {host!r} does not resolve: {error}") from None
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in infos
    )


def check_target(text: str, *, allow_remote: bool) -> tuple[str, int]:
    """Parse a target and refuse a non-loopback one unless `allow_remote`."""
    host, port = parse_target(text)
    if not allow_remote and not is_loopback(host):
        raise LoadTargetError(
            f"target {text} is not a loopback address: load tests only hit this machine unless "
            "--allow-remote is given (and you own the target)"
        )
    return host, port
