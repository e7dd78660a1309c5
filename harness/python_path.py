"""Child Python processes that import this `harness`, installed or not.

A receiver group's members, Locust's processes and the worker image's import probe run
`python -m ...` with this interpreter. An installed `harness` is found already; from a
checkout without an install, the directory holding the package goes first on their path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path


def harness_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with this `harness` importable."""
    environment = dict(os.environ if base is None else base)
    root = str(Path(str(files("harness"))).parent)
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, environment.get("PYTHONPATH", "")) if p
    )
    return environment
