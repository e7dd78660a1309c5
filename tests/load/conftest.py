"""Helpers for the Locust runs: curve files and reading a run's records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.herd.run.curve import FORMAT


def curve_document(
    points: list[tuple[float, float]],
    *,
    retry_offsets: tuple[float, ...] = (0.0, 1.0, 2.0),
    give_up: float = 6.0,
    concurrency: int = 6,
    stages: list[tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """A one-class curve ("fast") in our JSON format, short retries for short runs."""
    return {
        "format": FORMAT,
        "description": "test curve",
        "classes": [
            {
                "name": "fast",
                "share": 1.0,
                "concurrency": concurrency,
                "retry_offsets": list(retry_offsets),
                "give_up": give_up,
            }
        ],
        "points": [{"t": t, "rates": {"fast": rate}} for t, rate in points],
        "stages": [{"at": at, "fraction": f} for at, f in (stages or [(0.0, 1.0)])],
    }


@pytest.fixture
def write_curve(tmp_path: Path) -> Any:
    def write(document: dict[str, Any], name: str = "curve.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(document))
        return path

    return write


def records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Each Locust process's record by file stem (herd-local-0, herd-worker-1, ...)."""
    return {path.stem: json.loads(path.read_text()) for path in run_dir.glob("herd-*.json")}
