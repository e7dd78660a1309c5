"""Resources that start and stop, as context managers that clean up even when start fails.

A DNS server that bound its UDP socket and then failed on TCP, a network that was created and
then could not get its addresses: a `with` block whose `__enter__` raises never reaches
`__exit__`, so whatever the failed start left open would stay. `Lifecycle` stops on a failed
start too; `stop()` must therefore release whatever part was started, and be idempotent.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Lifecycle:
    """`with resource:` starts it, and stops it on exit and on a failed start."""

    def start(self) -> None:
        """Acquire the resource (sockets, threads, networks)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Release whatever `start` acquired, even partly; idempotent."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
