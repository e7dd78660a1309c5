"""The arrival curve a herd load test replays, and how each worker paces its share of it.

Pure data and arithmetic (no gevent, no asyncio, no Locust), so both sides read it: the Locust
processes of `load` (which may import this module) and `mailstorm herd run`, which
validates a curve before it starts anything.

A curve says, in **real** seconds after the receiver reopened, how many messages per second
each sender class offers (piecewise linear between points, zero outside them), and how each
class retries a message the receiver defers. A **staged reopening** reopens cohorts of
mailboxes in steps: stage k reopens a fraction f_k of the mailboxes at time a_k, and offers
f_k x the base curve shifted by a_k; its messages are addressed to `stage-k` recipients, so a
receiver plan can tell cohorts apart (`recipient_domain = "stage-1.*"`).

The file format (JSON) is documented in docs/herd-run.md; `mailstorm herd model`'s
`herd-model.json` is read as well (see `from_herd_model`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import HerdError
from harness.herd.model.sender_classes import SenderClass

FORMAT = "mailstorm-arrival-curve/1"
HERD_MODEL_FORMAT = "mailstorm-herd-model/1"


class LoadCurveError(HerdError):
    """An arrival curve file cannot be used: unreadable, not JSON, or a field is missing or
    wrong; the message names the file and the field."""


#: A class's attempts when a curve does not say (Postfix-like: 5, 10, 20, 40 min), and its
#: give-up, in real seconds.
DEFAULT_ATTEMPTS = (0.0, 300.0, 900.0, 2100.0, 4500.0)
DEFAULT_GIVE_UP = 5 * 86400.0


def curve_class(
    name: str,
    attempts: tuple[float, ...] = DEFAULT_ATTEMPTS,
    *,
    give_up: float = DEFAULT_GIVE_UP,
    concurrency: int = 10,
    share: float = 1.0,
) -> SenderClass:
    """A sender class as an arrival curve states it: attempt times (0 first), the last interval
    repeating until `give_up`; `concurrency` is the connection slots it opens at its peak."""
    return SenderClass.from_attempts(
        name, attempts, give_up=give_up, concurrency=concurrency, share=share
    )


def curve_attempts(sender: SenderClass) -> list[float]:
    """The attempt times a curve file lists for `sender` (0 first)."""
    return [0.0, *sender.retry_offsets]


@dataclass(frozen=True)
class Stage:
    """One step of a staged reopening: `fraction` of the mailboxes reopen at `at` seconds."""

    at: float
    fraction: float


@dataclass(frozen=True)
class ArrivalCurve:
    """Offered messages per second by sender class over real time after the reopening."""

    classes: tuple[SenderClass, ...]
    #: Point times, ascending (two equal times make a step).
    times: tuple[float, ...]
    #: rates[i][c]: messages/s of class c at times[i].
    rates: tuple[tuple[float, ...], ...]
    stages: tuple[Stage, ...] = (Stage(0.0, 1.0),)
    #: Real seconds a message had waited in its sender's queue at its first attempt in the run
    #: (about the outage's length for a herd); where its retry schedule resumes after a 4xx.
    queued_age: float = 0.0
    description: str = ""
    source: str = "<inline>"
    _cumulative: tuple[tuple[float, ...], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("a curve needs at least one sender class")
        if len(self.times) < 2 or len(self.rates) != len(self.times):
            raise ValueError("a curve needs at least two points")
        if any(b < a for a, b in itertools.pairwise(self.times)):
            raise ValueError("point times must not decrease")
        if any(len(row) != len(self.classes) or min(row) < 0 for row in self.rates):
            raise ValueError("every point needs a non-negative rate for every class")
        if not self.stages or any(s.fraction <= 0 or s.at < 0 for s in self.stages):
            raise ValueError("stages need a positive fraction and a non-negative time")
        cumulative = [tuple(0.0 for _ in self.classes)]
        for i in range(1, len(self.times)):
            span = self.times[i] - self.times[i - 1]
            cumulative.append(
                tuple(
                    cumulative[-1][c] + span * (self.rates[i - 1][c] + self.rates[i][c]) / 2
                    for c in range(len(self.classes))
                )
            )
        object.__setattr__(self, "_cumulative", tuple(cumulative))

    # -- the base curve (one stage of fraction 1 at time 0) ------------------------------------

    def base_rate(self, t: float, class_index: int) -> float:
        times = self.times
        if t < times[0] or t > times[-1]:
            return 0.0
        i = _segment(times, t)
        t0, t1 = times[i], times[i + 1]
        r0, r1 = self.rates[i][class_index], self.rates[i + 1][class_index]
        return r0 if t1 == t0 else r0 + (r1 - r0) * (t - t0) / (t1 - t0)

    def base_cumulative(self, t: float, class_index: int) -> float:
        """Messages of the class offered by the base curve from its start up to `t`."""
        times = self.times
        if t <= times[0]:
            return 0.0
        if t >= times[-1]:
            return self._cumulative[-1][class_index]
        i = _segment(times, t)
        t0 = times[i]
        r0 = self.rates[i][class_index]
        area = (t - t0) * (r0 + self.base_rate(t, class_index)) / 2
        return self._cumulative[i][class_index] + area

    # -- the staged curve ------------------------------------------------------------------

    def rate(self, t: float, class_index: int) -> float:
        return sum(s.fraction * self.base_rate(t - s.at, class_index) for s in self.stages)

    def stage_cumulative(self, t: float, class_index: int, stage_index: int) -> float:
        stage = self.stages[stage_index]
        return stage.fraction * self.base_cumulative(t - stage.at, class_index)

    def total_rate(self, t: float) -> float:
        return sum(self.rate(t, c) for c in range(len(self.classes)))

    @property
    def end(self) -> float:
        """Real seconds after which nothing more arrives."""
        return max(s.at for s in self.stages) + self.times[-1]

    @property
    def total_messages(self) -> float:
        return sum(
            s.fraction * self._cumulative[-1][c]
            for s in self.stages
            for c in range(len(self.classes))
        )

    def peak_rate(self, class_index: int) -> float:
        instants = sorted({s.at + t for s in self.stages for t in self.times})
        return max(self.rate(t, class_index) for t in instants)

    def slots(self, t: float) -> int:
        """Connection slots (Locust users) at real time `t`: each class opens its concurrency
        in proportion to its current rate over its peak, at least one while the curve runs (so
        retries still go out); after the curve's end, every slot, to drain the backlog."""
        total = 0
        for c, policy in enumerate(self.classes):
            if t >= self.end:
                total += policy.concurrency
                continue
            peak = self.peak_rate(c)
            share = self.rate(t, c) / peak if peak > 0 else 0.0
            total += max(1, math.ceil(policy.concurrency * share - 1e-9))
        return total

    def with_stages(self, stages: Sequence[Stage]) -> ArrivalCurve:
        return replace(self, stages=tuple(stages))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "description": self.description,
            "queued_age": self.queued_age,
            "classes": [
                {
                    "name": p.name,
                    "share": p.share,
                    "concurrency": p.concurrency,
                    "retry_offsets": curve_attempts(p),
                    "give_up": p.give_up,
                }
                for p in self.classes
            ],
            "points": [
                {"t": t, "rates": {p.name: r for p, r in zip(self.classes, row, strict=True)}}
                for t, row in zip(self.times, self.rates, strict=True)
            ],
            "stages": [{"at": s.at, "fraction": s.fraction} for s in self.stages],
        }


def _segment(times: Sequence[float], t: float) -> int:
    """Index i of the segment [times[i], times[i+1]] holding t (the last such, for steps)."""
    low, high = 0, len(times) - 2
    while low < high:
        middle = (low + high + 1) // 2
        if times[middle] <= t:
            low = middle
        else:
            high = middle - 1
    return low


# -- pacing one worker's share ---------------------------------------------------------------


@dataclass(frozen=True)
class WorkerShare:
    """Which part of the load one Locust process produces: `index` of `count` processes."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"worker index {self.index} is not in 0..{self.count - 1}")

    def own(self, n: int) -> int:
        """How many of the stream's first n messages (numbered 0..n-1) are this worker's:
        message i belongs to worker i mod count."""
        return 0 if n <= self.index else (n - self.index + self.count - 1) // self.count

    def cap(self, total: int) -> int:
        """This worker's part of a run-wide message cap."""
        return total // self.count + (1 if self.index < total % self.count else 0)


class Pacer:
    """Turns the curve into new first attempts for one worker, as wall time passes.

    Wall time w stands for real time w x `time_factor`; `volume` scales the number of messages
    (1.0 replays the curve's counts). Each (class, stage) is one stream whose message i is due
    when the stream's cumulative count passes i; message i goes to worker i mod count, so the
    workers together replay the curve once and exactly. `cap` bounds this worker's messages.
    """

    def __init__(
        self,
        curve: ArrivalCurve,
        *,
        time_factor: float = 1.0,
        volume: float = 1.0,
        share: WorkerShare = WorkerShare(),
        max_messages: int | None = None,
    ) -> None:
        if time_factor <= 0 or volume <= 0:
            raise ValueError("time_factor and volume must be positive")
        self.curve = curve
        self.time_factor = time_factor
        self.volume = volume
        self.share = share
        self.cap = share.cap(max_messages) if max_messages is not None else None
        self.streams = [(c, k) for c in range(len(curve.classes)) for k in range(len(curve.stages))]
        self._seen = [0] * len(self.streams)  # stream-wide messages due so far
        self.produced = 0  # this worker's messages due so far
        self._last_wall = -1.0

    @property
    def wall_end(self) -> float:
        return self.curve.end / self.time_factor

    @property
    def finished(self) -> bool:
        """Everything this worker will ever produce has been returned by `due`."""
        capped = self.cap is not None and self.produced >= self.cap
        return capped or self._last_wall >= self.wall_end

    def due(self, wall: float) -> list[tuple[int, int, int]]:
        """New messages due by wall time `wall` for this worker: (class, stage, count) rows."""
        self._last_wall = max(self._last_wall, wall)
        real = wall * self.time_factor
        rows: list[tuple[int, int, int]] = []
        for s, (c, k) in enumerate(self.streams):
            if self.cap is not None and self.produced >= self.cap:
                break
            n = math.floor(self.volume * self.curve.stage_cumulative(real, c, k) + 1e-9)
            if n <= self._seen[s]:
                continue
            new = self.share.own(n) - self.share.own(self._seen[s])
            self._seen[s] = n
            if self.cap is not None:
                new = min(new, self.cap - self.produced)
            if new > 0:
                self.produced += new
                rows.append((c, k, new))
        return rows


# -- building curves ---------------------------------------------------------------------------


def constant_curve(
    rate: float,
    duration: float,
    *,
    policy: SenderClass | None = None,
    description: str = "",
) -> ArrivalCurve:
    """One class offering `rate` messages/s for `duration` seconds."""
    return ArrivalCurve(
        classes=(policy or curve_class("sender"),),
        times=(0.0, duration),
        rates=((rate,), (rate,)),
        description=description or f"constant {rate:g} msgs/s for {duration:g} s",
    )


def flat_out_curve(messages: int, concurrency: int) -> ArrivalCurve:
    """Every message due at once: `messages` within the first millisecond, for benchmarks."""
    rate = messages / 0.001
    return constant_curve(
        rate,
        0.001,
        policy=curve_class("bench", concurrency=concurrency),
        description=f"{messages} messages at once ({concurrency} slots)",
    )


#: Debian defaults, in real seconds: Postfix 3.7 (minimal backoff 300 s doubling to 4000 s,
#: give-up 5 days) and Exim 4.96 (15-minute retries for 2 h, then growing by 1.5 to 16 h,
#: give-up 4 days), rounded to the schedule each produces.
POSTFIX_LIKE = curve_class(
    "postfix-like",
    (0.0, 300.0, 900.0, 2100.0, 4500.0, 8500.0),
    give_up=5 * 86400.0,
    concurrency=20,
    share=0.6,
)
EXIM_LIKE = curve_class(
    "exim-like",
    (0.0, 900.0, 1800.0, 2700.0, 3600.0, 7200.0, 12600.0, 20700.0),
    give_up=4 * 86400.0,
    concurrency=10,
    share=0.4,
)


def demo_curve() -> ArrivalCurve:
    """A small herd for trying things out: two classes after a 24-hour outage, a surge that
    decays over 10 minutes (real time), about 6,000 messages, reopened in two stages."""
    times = (0.0, 30.0, 60.0, 120.0, 240.0, 420.0, 600.0)
    postfix = (12.0, 18.0, 12.0, 8.0, 5.0, 3.0, 2.0)
    exim = (4.0, 8.0, 9.0, 6.0, 4.0, 2.4, 1.6)
    return ArrivalCurve(
        classes=(POSTFIX_LIKE, EXIM_LIKE),
        times=times,
        rates=tuple(zip(postfix, exim, strict=True)),
        stages=(Stage(0.0, 0.5), Stage(120.0, 0.5)),
        queued_age=86400.0,
        description="demo herd: 24 h outage, two sender classes, reopened in two stages",
        source="demo",
    )


# -- choosing a curve ---------------------------------------------------------------------------

#: What `curve_from_option` accepts, for help texts.
CURVE_OPTION_HELP = (
    "'demo' (a small two-class herd reopened in two stages), 'constant:RATE:SECONDS[:SLOTS]', "
    "'flat-out:MESSAGES:SLOTS' (everything due at once), or a JSON file: an arrival curve or "
    "a herd-model.json"
)


def curve_from_option(text: str) -> ArrivalCurve:
    """The curve an option names: see CURVE_OPTION_HELP."""
    kind, _, rest = text.partition(":")
    try:
        if text == "demo":
            return demo_curve()
        if kind == "flat-out":
            messages, slots = rest.split(":")
            return flat_out_curve(int(messages), int(slots))
        if kind == "constant":
            parts = rest.split(":")
            if len(parts) not in (2, 3):
                raise ValueError("expected constant:RATE:SECONDS[:SLOTS]")
            rate, seconds = float(parts[0]), float(parts[1])
            concurrency = int(parts[2]) if len(parts) > 2 else 10
            policy = curve_class("sender", concurrency=concurrency)
            return constant_curve(rate, seconds, policy=policy)
    except ValueError as error:
        raise LoadCurveError(f"curve {text!r}: {error}") from None
    return load_curve(text)


# -- reading files -----------------------------------------------------------------------------


def load_curve(path: str | Path) -> ArrivalCurve:
    """An arrival curve from a JSON file: our format, or `mailstorm herd model`'s output."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise LoadCurveError(f"{path}: cannot read it: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LoadCurveError(f"{path}: not JSON: {error}") from None
    if not isinstance(document, dict):
        raise LoadCurveError(f"{path}: expected a JSON object at the top level")
    if document.get("format") == FORMAT:
        return curve_from_mapping(document, source=str(path))
    return from_herd_model(document, source=str(path))


def curve_from_mapping(document: Mapping[str, Any], *, source: str = "<inline>") -> ArrivalCurve:
    """Validate a curve given as plain data in our format (see docs/herd-run.md)."""
    where = _Where(source)
    raw_classes = where.list(document, "classes")
    classes: list[SenderClass] = []
    for i, raw in enumerate(raw_classes):
        at = f"classes[{i}]"
        entry = where.mapping(raw, at)
        try:
            classes.append(
                curve_class(
                    where.text(entry, "name", at),
                    tuple(
                        where.number(value, f"{at}.retry_offsets[{j}]")
                        for j, value in enumerate(where.list(entry, "retry_offsets", at))
                    ),
                    give_up=where.number(entry.get("give_up"), f"{at}.give_up"),
                    concurrency=int(where.number(entry.get("concurrency"), f"{at}.concurrency")),
                    share=where.number(entry.get("share", 1.0), f"{at}.share"),
                )
            )
        except ValueError as error:
            raise where.error(at, str(error)) from None
    names = [policy.name for policy in classes]
    if len(set(names)) != len(names):
        raise where.error("classes", "class names must be unique")
    times: list[float] = []
    rates: list[tuple[float, ...]] = []
    for i, raw in enumerate(where.list(document, "points")):
        at = f"points[{i}]"
        entry = where.mapping(raw, at)
        times.append(where.number(entry.get("t"), f"{at}.t"))
        by_class = where.mapping(entry.get("rates"), f"{at}.rates")
        unknown = set(by_class) - set(names)
        if unknown:
            raise where.error(f"{at}.rates", f"unknown class {sorted(unknown)[0]!r}")
        rates.append(tuple(where.number(by_class.get(n, 0.0), f"{at}.rates.{n}") for n in names))
    interpolation = document.get("interpolation", "linear")
    if interpolation == "step":
        times, rates = _steps(times, rates)
    elif interpolation != "linear":
        raise where.error("interpolation", f"expected 'linear' or 'step', got {interpolation!r}")
    stages: list[Stage] = []
    for i, raw in enumerate(document.get("stages") or [{"at": 0, "fraction": 1}]):
        at = f"stages[{i}]"
        entry = where.mapping(raw, at)
        stages.append(
            Stage(
                at=where.number(entry.get("at"), f"{at}.at"),
                fraction=where.number(entry.get("fraction"), f"{at}.fraction"),
            )
        )
    description = document.get("description", "")
    try:
        return ArrivalCurve(
            classes=tuple(classes),
            times=tuple(times),
            rates=tuple(rates),
            stages=tuple(stages),
            queued_age=where.number(document.get("queued_age", 0.0), "queued_age"),
            description=str(description),
            source=source,
        )
    except ValueError as error:
        raise where.error("points", str(error)) from None


def from_herd_model(document: Mapping[str, Any], *, source: str) -> ArrivalCurve:
    """The arrival curve inside a `herd-model.json` written by `mailstorm herd model`.

    Its points hold for one model step each (step interpolation), the queued mail is as old as
    the outage (`input.outage`), and a class's slots are its concurrency per host times its
    hosts when the model knows them (`senders[].hosts`)."""
    embedded = document.get("arrival_curve")
    if document.get("format") != HERD_MODEL_FORMAT or not isinstance(embedded, Mapping):
        raise LoadCurveError(
            f'{source}: not an arrival curve (expected "format": "{FORMAT}", or a '
            f"herd-model.json with an arrival_curve; see docs/herd-run.md)"
        )
    curve = dict(embedded)
    curve.setdefault("interpolation", "step")
    raw_input = document.get("input")
    if "queued_age" not in curve and isinstance(raw_input, Mapping):
        curve["queued_age"] = raw_input.get("outage", 0.0)
    hosts = {
        sender.get("name"): sender.get("hosts")
        for sender in document.get("senders") or []
        if isinstance(sender, Mapping)
    }
    classes = []
    for raw in curve.get("classes") or []:
        entry = dict(raw) if isinstance(raw, Mapping) else raw
        if isinstance(entry, dict):
            count = hosts.get(entry.get("name"))
            concurrency = entry.get("concurrency", 1)
            if isinstance(count, int) and isinstance(concurrency, int):
                entry["concurrency"] = concurrency * count
        classes.append(entry)
    curve["classes"] = classes
    return curve_from_mapping(curve, source=f"{source}: arrival_curve")


def _steps(
    times: list[float], rates: list[tuple[float, ...]]
) -> tuple[list[float], list[tuple[float, ...]]]:
    """Points that each hold until the next (the last for as long as the one before it) as the
    piecewise-linear points that draw the same staircase."""
    if len(times) < 2:
        return times, rates
    ends = [*times[1:], times[-1] + (times[-1] - times[-2])]
    stepped_times: list[float] = []
    stepped_rates: list[tuple[float, ...]] = []
    for start, end, row in zip(times, ends, rates, strict=True):
        stepped_times += [start, end]
        stepped_rates += [row, row]
    return stepped_times, stepped_rates


class _Where:
    """Builds one-line errors naming the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, field_path: str, problem: str) -> LoadCurveError:
        return LoadCurveError(f"{self.source}: {field_path}: {problem}")

    def mapping(self, value: Any, field_path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(field_path, f"expected an object, got {value!r}")
        return value

    def list(self, document: Mapping[str, Any], key: str, parent: str = "") -> list[Any]:
        value = document.get(key)
        path = f"{parent}.{key}" if parent else key
        if not isinstance(value, list) or not value:
            raise self.error(path, "expected a non-empty list")
        return value

    def text(self, document: Mapping[str, Any], key: str, parent: str) -> str:
        value = document.get(key)
        if not isinstance(value, str) or not value:
            raise self.error(f"{parent}.{key}", f"expected a name, got {value!r}")
        return value

    def number(self, value: Any, field_path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(field_path, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise self.error(field_path, f"expected a number, got {value!r}")
        return float(value)
