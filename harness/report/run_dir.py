"""One directory per run under the reports root, and `latest` pointing at the newest.

Runs never overwrite each other (the run id carries the UTC time and a counter), so a report a
user is reading or comparing against is never replaced under them; `latest` is a symlink that is
swapped atomically.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness.errors import MailstormError


def create_run_dir(root: str | Path, kind: str) -> Path:
    """Create `root/<UTC time>-<kind>[-N]/` and point `root/latest` at it."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MailstormError(f"cannot create the reports directory {root}: {error}") from None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for counter in range(1000):
        name = f"{stamp}-{kind}" + (f"-{counter}" if counter else "")
        run_dir = root / name
        try:
            run_dir.mkdir()
        except FileExistsError:
            continue
        _point_latest(root, name)
        return run_dir
    raise MailstormError(f"cannot create a run directory under {root}: too many runs this second")


def _point_latest(root: Path, name: str) -> None:
    latest = root / "latest"
    if latest.exists() and not latest.is_symlink():
        return  # a real directory a user made: never replace it
    temporary = root / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(name)
    temporary.replace(latest)
