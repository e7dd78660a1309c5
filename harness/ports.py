"""Port numbers for programs that must be told one (Locust's master, smtp-sink).

Our own servers bind port 0 and read the bound port back; a separate program cannot, so it is
given the kernel's pick of a free port, and its caller retries when someone took it first.
"""

from __future__ import annotations

import socket


def free_port(host: str) -> int:
    """A port nobody listens on right now (the kernel's pick for port 0), for programs that need
    a number; someone may take it before the program binds it, so callers retry on collision."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
