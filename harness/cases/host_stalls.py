"""How late this host wakes a waiting process while cases run: the stalls a clock warp magnifies.

Under a clock warp of K every wall millisecond a process waits for the CPU is K milliseconds of
the MTA's time, and neither the MTA's log nor the receiver can tell that wait from the MTA's own
decision: a scheduler whose timer fires 78 ms late at x2880 retries 3m45s late, and its log stamps
the retry when it ran. The reference run of 13 columns on two cores showed exactly that once
(OpenSMTPD's first retry 10m23s after a 6m40s schedule, every later retry on time).

A probe thread in the harness process sleeps a short period over and over and records by how
much each wake-up came late. It shares the CPUs with the MTAs' containers and the GIL with the
receivers, so it is stalled by what stalls them: other containers starting, image builds, a
long parse in the harness. The worst lateness during a case, times K, is one more term of the
case's ± (`harness.ledger.clock_check.case_warp_uncertainty`): a stall the harness cannot place
is assumed to have hit the attempt it could have moved.
"""

from __future__ import annotations

import bisect
import threading
import time

from harness.lifecycle import Lifecycle

#: Wall seconds between the probe's wake-ups: short enough to catch stalls of a few ms.
PERIOD = 0.005
#: Lateness below this (wall seconds) is the ordinary cost of a wake-up and is not recorded.
RECORDED = 0.002


class HostStallProbe(Lifecycle):
    """A thread measuring wake-up lateness; `worst_between` reads it for a span of wall time.

    A `Lifecycle`: the thread stops when the `with` block ends, however it ends.
    """

    def __init__(self, period: float = PERIOD) -> None:
        self._period = period
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._walls: list[float] = []  #: wall instant each recorded wake-up was due (sorted)
        self._late: list[float] = []  #: its lateness, wall seconds
        self._thread = threading.Thread(target=self._run, name="host-stall-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        due = time.monotonic() + self._period
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            now = time.monotonic()
            late = now - due
            if late >= RECORDED:
                with self._lock:
                    self._walls.append(time.time() - late)
                    self._late.append(late)
            due = now + self._period

    def longest(self, count: int = 3) -> list[tuple[float, float]]:
        """The `count` longest stalls as (wall instant the wake-up was due, lateness), longest
        first: when they happened tells what caused them."""
        with self._lock:
            pairs = list(zip(self._walls, self._late, strict=True))
        return sorted(pairs, key=lambda pair: -pair[1])[:count]

    def worst_between(self, start: float, end: float) -> float:
        """The longest lateness (wall seconds) of a wake-up due from `start` to `end` (Unix
        time); 0.0 when none was recorded."""
        with self._lock:
            first = bisect.bisect_left(self._walls, start)
            last = bisect.bisect_right(self._walls, end)
            return max(self._late[first:last], default=0.0)
