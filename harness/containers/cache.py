"""Where image builds keep their state on this machine, and the lock that makes them build once.

Several pytest-xdist workers, or several runs, may ask for the same image at the same moment; an
image build takes minutes, so the second asker must wait for the first instead of building again.
An `flock` on a file is released by the kernel when its owner dies, even by SIGKILL, so a killed
build never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_dir() -> Path:
    """The mailstorm cache directory (created): MAILSTORM_CACHE_DIR, else XDG's cache home."""
    configured = os.environ.get("MAILSTORM_CACHE_DIR")
    if configured:
        path = Path(configured)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".cache") / "mailstorm"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def exclusive_lock(name: str) -> Iterator[Path]:
    """Hold the machine-wide lock `name` (blocking until it is free); yields the lock file's path.

    Callers re-check, once they hold the lock, whether the work is still to do: whoever held it
    before may have done it.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    lock_path = cache_dir() / "locks" / f"{safe}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield lock_path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
