"""The no-queue application sender (Python's smtplib, the control column): the driver, its
`target.toml` and its image, in one folder.

The registry finds the folder by its `target.toml` and `image/Dockerfile` and takes `DRIVER`.
"""

from harness.targets.noqueue.driver import NoQueueTarget

DRIVER = NoQueueTarget

__all__ = ["DRIVER", "NoQueueTarget"]
