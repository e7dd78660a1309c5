"""dma, the DragonFly Mail Agent (Debian's `dma`): the driver, its `target.toml` and its image,
in one folder.

The registry finds the folder by its `target.toml` and `image/Dockerfile` and takes `DRIVER`.
"""

from harness.targets.dma.driver import DmaTarget

DRIVER = DmaTarget

__all__ = ["DRIVER", "DmaTarget"]
