"""msmtp, the no-queue relay of web servers (Debian's `msmtp`): the driver, its `target.toml`
and its image, in one folder.

The registry finds the folder by its `target.toml` and `image/Dockerfile` and takes `DRIVER`.
"""

from harness.targets.msmtp.driver import MsmtpTarget

DRIVER = MsmtpTarget

__all__ = ["DRIVER", "MsmtpTarget"]
