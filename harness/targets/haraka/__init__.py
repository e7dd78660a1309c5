"""Haraka, the Node.js mail server (npm `Haraka`): the driver, its `target.toml` and its image
(with the npm lock file and the plugin that routes and records), in one folder.

The registry finds the folder by its `target.toml` and `image/Dockerfile` and takes `DRIVER`.
"""

from harness.targets.haraka.driver import HarakaTarget

DRIVER = HarakaTarget

__all__ = ["DRIVER", "HarakaTarget"]
