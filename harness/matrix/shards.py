"""Sharding the matrix across machines: `mailstorm matrix --shard i/N` runs one deterministic,
balanced part of the containers, and `mailstorm matrix merge` joins the parts.

Every shard computes the same list of containers (groups) from the same arguments and keeps
its own share of it, so N machines given `--shard 1/N` ... `--shard N/N` run every case exactly
once without talking to each other. The split is by container, never inside one: cases that
share a container (and so a queue) stay together, as they would unsharded, and each shard
starts its own containers and binds its own ports. Balance: longest-processing-time first over
each container's cost (its cases, plus one for starting it), ties broken by the container's
place in the list, so the split depends only on the arguments.

The retry schedules are split by target the same way (a target's schedule runs on one shard),
their cost being the wall time of five warped days.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from harness.errors import MailstormError

T = TypeVar("T")

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise MailstormError(
                f"--shard {self.index}/{self.count}: expected I/N with 1 <= I <= N"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`2/4` -> Shard(2, 4); anything else is a one-line MailstormError."""
        match = _SHARD.match(text)
        if match is None:
            raise MailstormError(f"--shard {text!r}: expected I/N, e.g. 1/2")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


def split(items: Sequence[T], count: int, cost: Callable[[T], float]) -> list[list[T]]:
    """`items` in `count` parts of nearly equal total cost, each part in the items' order.

    Longest processing time first: the costliest item goes to the part with the least cost so
    far (the lowest-numbered on a tie). Deterministic for the same items and costs."""
    order = sorted(range(len(items)), key=lambda i: (-cost(items[i]), i))
    loads = [(0.0, part) for part in range(count)]
    heapq.heapify(loads)
    owner: dict[int, int] = {}
    for i in order:
        load, part = heapq.heappop(loads)
        owner[i] = part
        heapq.heappush(loads, (load + cost(items[i]), part))
    return [[items[i] for i in range(len(items)) if owner[i] == part] for part in range(count)]


def shard_of(items: Sequence[T], shard: Shard | None, cost: Callable[[T], float]) -> list[T]:
    """The items `shard` runs (all of them without a shard)."""
    if shard is None:
        return list(items)
    return split(items, shard.count, cost)[shard.index - 1]
