"""nullmailer, the relay-only queue to one smarthost (Debian's `nullmailer`): the driver, its
`target.toml` and its image, in one folder.

The registry finds the folder by its `target.toml` and `image/Dockerfile` and takes `DRIVER`.
"""

from harness.targets.nullmailer.driver import NullmailerTarget

DRIVER = NullmailerTarget

__all__ = ["DRIVER", "NullmailerTarget"]
