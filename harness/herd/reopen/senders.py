"""The senders of a reopen experiment: several real MTA containers, started together.

A herd is many queues retrying at once, so the experiment needs several sender containers of
each MTA (`postfix=2,exim=2`). Each is a normal sender target (`harness.targets`) on the run's
time scale; they start in parallel (a container start is mostly waiting on the engine) and are
told apart at the receiver by their container IP on the bridge, which is the client address
the receiver's journal records for every session. If any of them fails to start, those already
started are removed before the error propagates.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from harness.errors import HerdError, MailstormError
from harness.targets import RouteTable, SenderTarget, target_class

#: Parallel container starts: more only queue up in the engine on a small machine.
START_WORKERS = 4
_MIX_PART = re.compile(r"^\s*([a-z][a-z0-9_-]*)\s*=\s*(\d+)\s*$")


class SenderMixError(HerdError):
    """A `--senders` value cannot be used (unknown MTA, bad count, nothing to run)."""


@dataclass(frozen=True)
class SenderMix:
    """How many containers of each sender MTA, in the order given: `postfix=2,exim=2`."""

    counts: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, text: str) -> SenderMix:
        counts: dict[str, int] = {}
        for part in text.split(","):
            found = _MIX_PART.match(part.lower())
            if found is None:
                raise SenderMixError(
                    f"--senders {text!r}: {part.strip()!r} is not NAME=COUNT "
                    "(e.g. postfix=2,exim=2)"
                )
            name, count = found.group(1), int(found.group(2))
            try:
                target_class(name)
            except MailstormError as error:
                raise SenderMixError(f"--senders {text!r}: {error}") from None
            if name in counts:
                raise SenderMixError(f"--senders {text!r}: {name} is named twice")
            counts[name] = count
        if sum(counts.values()) < 1:
            raise SenderMixError(f"--senders {text!r}: no sender to run (every count is 0)")
        return cls(tuple((name, count) for name, count in counts.items() if count))

    def labels(self) -> list[tuple[str, str]]:
        """(label, MTA) per container: `postfix-1`, `postfix-2`, `exim-1`, ..."""
        return [(f"{name}-{n + 1}", name) for name, count in self.counts for n in range(count)]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)

    def __str__(self) -> str:
        return ",".join(f"{name}={count}" for name, count in self.counts)


@dataclass(frozen=True)
class SenderSpec:
    """One container to start: its label (unique in the run), MTA and routes."""

    label: str
    mta: str
    routes: RouteTable


@dataclass(frozen=True)
class Sender:
    """A started sender: its label, its target, and the IP the receiver sees it connect from."""

    label: str
    target: SenderTarget
    address: str
    #: monotonic wall time its MTA was ready: its queue runner's clock starts about then, so
    #: the spread of these across containers of one MTA is the spread of their queue-run phase
    ready_mono: float = 0.0


class SenderFleet:
    """Every sender container of a run; a context manager that removes them all."""

    def __init__(
        self,
        specs: Sequence[SenderSpec],
        *,
        time_scale: float,
        clock_warp: bool = False,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        labels = [spec.label for spec in specs]
        if len(set(labels)) != len(labels):
            raise SenderMixError(f"sender labels must be unique: {labels}")
        self.specs = tuple(specs)
        self.time_scale = time_scale
        #: stock configurations on a clock k times faster, for every MTA (warp-only ones always)
        self.clock_warp = clock_warp
        self.progress = progress
        self.senders: list[Sender] = []

    def start(self) -> Self:
        targets = [
            target_class(spec.mta)(
                spec.routes, time_scale=self.time_scale, clock_warp=self.clock_warp
            )
            for spec in self.specs
        ]
        with ThreadPoolExecutor(START_WORKERS, thread_name_prefix="mailstorm-sender") as pool:
            outcomes = list(pool.map(_start_one, targets))
        started = [
            (spec, *outcome)
            for spec, outcome in zip(self.specs, outcomes, strict=True)
            if not isinstance(outcome, BaseException)
        ]
        try:
            failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
            if failure is not None:
                raise failure
            self.senders = [Sender(spec.label, t, _address(t), at) for spec, t, at in started]
        except BaseException:
            for _, target, _ in started:
                target.stop()
            raise
        for sender in self.senders:
            target = sender.target
            self.progress(
                f"{sender.label}: {target.name} {target.version} at {sender.address}, "
                f"ready in {sum(target.timings.values()):.1f}s"
            )
        return self

    def stop(self) -> None:
        senders, self.senders = self.senders, []
        for sender in senders:
            sender.target.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def by_address(self) -> dict[str, str]:
        """Client IP -> sender label, to attribute the receiver's sessions."""
        return {sender.address: sender.label for sender in self.senders}


def _start_one(target: SenderTarget) -> tuple[SenderTarget, float] | BaseException:
    """Start a target in a worker thread: it and when it was ready, or its failure (it already
    cleaned up)."""
    try:
        return target.start(), time.monotonic()
    except BaseException as error:  # handed to the caller, which raises the first one
        return error


def _address(target: SenderTarget) -> str:
    wrapped = target.container.get_wrapped_container()
    wrapped.reload()
    address = str(wrapped.attrs.get("NetworkSettings", {}).get("IPAddress") or "")
    if not address:
        raise MailstormError(f"{target.name}: the container has no IP on the default bridge")
    return address
