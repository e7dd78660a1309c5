"""Sendmail as a sender target: the driver, its `target.toml` and its image, in one folder.

The registry finds the folder by its `target.toml` and `image/Dockerfile` and takes `DRIVER`.
"""

from harness.targets.sendmail.driver import SendmailTarget

DRIVER = SendmailTarget

__all__ = ["DRIVER", "SendmailTarget"]
