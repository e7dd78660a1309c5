"""Exim as a sender target: the driver, its config template, `target.toml` and image, in one folder.

`driver.py` runs it, `config.py` renders its configuration, `parsers.py` reads its log and queue.
The registry finds the folder by its `target.toml` and `image/Dockerfile` and takes `DRIVER`.
"""

from harness.targets.exim.driver import EximTarget

DRIVER = EximTarget

__all__ = ["DRIVER", "EximTarget"]
