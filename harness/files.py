"""Writing report files whole or not at all.

A report is often read while a run is still writing (a browser on `reports/latest/`, a CI step
uploading the directory): each file is written to a temporary sibling and renamed over the
target, so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import ReportWriteError


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through a temporary file and a rename; return the path."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file and a rename; return the path."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ReportWriteError(
            f"cannot write the report {path}: {error.strerror or error}"
        ) from None
    return path
