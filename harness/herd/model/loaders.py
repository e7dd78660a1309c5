"""Sender classes from files: measured schedules (`schedule.json`) and stated ones (TOML).

Measured beats documented where both exist, and both beat guesses; but a class nobody has
measured (a large mailbox provider) can only be stated, so the TOML file says where each
number comes from in `source`, and the model prints it beside the result.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.durations import parse_duration
from harness.errors import HerdError, MatrixFormatError
from harness.herd.model.sender_classes import BUILTIN_CLASSES, Backoff, SenderClass
from harness.results import (
    VARIANT_PREFERENCE,
    MeasuredSchedule,
    Method,
    choose_schedule,
    read_schedule_json,
)
from harness.targets.registry import SUITE_SEPARATOR

#: The TOML shipped with mailstorm: Postfix and Exim documented defaults and a provider class.
DEFAULT_SENDERS = Path(__file__).with_name("default_senders.toml")


_CLASS_KEYS = {
    "name",
    "based_on",
    "share",
    "source",
    "retry_offsets",
    "backoff",
    "give_up",
    "warning",
    "concurrency",
    "hosts",
    "scan_interval",
    "anchor",
    "rcpt_anchor",
    "evidence",
}


def load_senders_toml(path: str | Path) -> tuple[SenderClass, ...]:
    """The `[[sender]]` tables of a TOML file (format in docs/herd-model.md)."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise HerdError(f"{path}: cannot read it: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise HerdError(f"{path}: not TOML: {error}") from None
    tables = document.get("sender")
    if not isinstance(tables, list) or not tables:
        raise HerdError(f"{path}: expected at least one [[sender]] table")
    classes = [_class_from_table(table, f"{path}: sender[{i}]") for i, table in enumerate(tables)]
    _check_unique(classes, str(path))
    return tuple(classes)


def _class_from_table(table: Any, where: str) -> SenderClass:
    if not isinstance(table, dict):
        raise HerdError(f"{where}: expected a table")
    unknown = sorted(set(table) - _CLASS_KEYS)
    if unknown:
        raise HerdError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(_CLASS_KEYS)})")
    based_on = table.get("based_on")
    base: SenderClass | None = None
    if based_on is not None:
        factory = BUILTIN_CLASSES.get(str(based_on))
        if factory is None:
            raise HerdError(
                f"{where}.based_on: unknown class {based_on!r} (built in: "
                f"{', '.join(BUILTIN_CLASSES)})"
            )
        base = factory()
    fields: dict[str, Any] = {}
    if "name" in table or base is None:
        fields["name"] = _text(table, "name", where)
    if "share" in table:
        fields["share"] = _number(table["share"], f"{where}.share")
    if "source" in table or base is None:
        fields["source"] = _text(table, "source", where)
    if "retry_offsets" in table:
        offsets = table["retry_offsets"]
        if not isinstance(offsets, list):
            raise HerdError(f"{where}.retry_offsets: expected a list of durations")
        fields["retry_offsets"] = tuple(
            _duration(value, f"{where}.retry_offsets[{i}]") for i, value in enumerate(offsets)
        )
    if "backoff" in table:
        fields["backoff"] = _backoff(table["backoff"], f"{where}.backoff")
    for key in ("give_up", "scan_interval"):
        if key in table:
            fields[key] = _duration(table[key], f"{where}.{key}")
    if "warning" in table:
        warning = table["warning"]
        fields["warning"] = (
            None if warning in ("none", 0) else _duration(warning, f"{where}.warning")
        )
    for key in ("concurrency", "hosts"):
        if key in table:
            fields[key] = _integer(table[key], f"{where}.{key}")
    for key in ("anchor", "rcpt_anchor", "evidence"):
        if key in table:
            fields[key] = table[key]
    fields.setdefault("share", base.share if base else 0.0)
    try:
        if base is not None:
            return replace(base, **fields)
        fields.setdefault("retry_offsets", ())
        if "give_up" not in fields:
            raise HerdError(f"{where}: missing give_up (the queue lifetime, e.g. '5d')")
        return SenderClass(**fields)
    except (TypeError, ValueError) as error:
        raise HerdError(f"{where}: {error}") from None


def load_schedule_json(
    path: str | Path,
    variants: Sequence[str] = VARIANT_PREFERENCE,
    *,
    required: bool = True,
) -> tuple[SenderClass, ...]:
    """One class per target measured by `mailstorm schedule` (or `mailstorm matrix`).

    The file is read by `harness.results.read_schedule_json`, and per target the measurement
    that stands for it is `harness.results.choose_schedule`'s: the first of `variants` it was
    measured for (by default 4xx, else blackhole, else refused; a target measured for none of
    them has no class), under a clock warp if it was, else at the smallest time scale.
    `required`: a file with no such measurement is an error (else: no classes).
    Offsets are counted from the first attempt; the give-up too. Concurrency, queue scan and
    anchoring come from the documented class of the same MTA when there is one; the schedule
    is extended by its last interval up to the give-up.
    """
    path = Path(path)
    try:
        measured = read_schedule_json(path).measured
    except MatrixFormatError as error:
        raise HerdError(str(error)) from None
    targets = dict.fromkeys(
        m.target
        for m in measured
        if m.schedule is not None and not m.error and m.variant in variants
    )
    chosen = [choose_schedule(measured, target, variants) for target in targets]
    if not chosen and required:
        raise HerdError(f"{path}: no measured schedule in it (every entry has an error)")
    return tuple(_measured_class(measured.index(m), m, path) for m in chosen if m is not None)


def _measured_class(index: int, measured: MeasuredSchedule, path: Path) -> SenderClass:
    where = f"{path}: schedules[{index}]"
    schedule = measured.schedule
    assert schedule is not None  # chosen among the measured ones
    target = measured.target
    if len(schedule.attempts) < 2:
        raise HerdError(f"{where}.schedule.attempts: expected at least two attempts")
    first = schedule.attempts[0]
    offsets: list[float] = []
    for t in schedule.attempts[1:]:
        offset = t - first
        if offset > (offsets[-1] if offsets else 0.0):
            offsets.append(offset)
    # `postfix@bookworm` is a Postfix: the documented class of its MTA fills what a schedule
    # does not measure (concurrency, queue scan, anchoring).
    family = target.partition(SUITE_SEPARATOR)[0]
    base = BUILTIN_CLASSES[family]() if family in BUILTIN_CLASSES else None
    if schedule.give_up is not None:
        give_up = schedule.give_up - first
        give_up_note = "give-up measured"
    elif base is not None:
        give_up = base.give_up
        give_up_note = "give-up not observed: documented default used"
    else:
        raise HerdError(f"{where}.schedule.give_up: not observed and no documented default")
    intervals = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    method = {Method.CLOCK_WARP: "clock warp, stock configuration"}.get(
        measured.method, "scaled configuration"
    )
    distorted = ", ".join(
        f"{p.name} x{p.distortion:.3g}"
        for p in schedule.distorted
        if not p.name.endswith("_timeout")  # session timeouts: not the schedule
    )
    source = (
        f"measured: {path} {target} {schedule.version} variant {measured.variant}"
        f" x{measured.time_scale} ({method}); {give_up_note}"
        + (f"; distorted: {distorted}" if distorted else "")
    )
    try:
        return SenderClass(
            name=target,
            retry_offsets=tuple(offsets),
            backoff=Backoff(intervals[-1]) if intervals else None,
            give_up=give_up,
            warning=schedule.warning,
            concurrency=base.concurrency if base else 1,
            scan_interval=base.scan_interval if base else 0.0,
            anchor=base.anchor if base else "message",
            rcpt_anchor=base.rcpt_anchor if base else None,
            share=0.0,
            source=source,
            evidence="measured",
        )
    except ValueError as error:
        raise HerdError(f"{where}: {error}") from None


def apply_mix(
    classes: tuple[SenderClass, ...], mix: Mapping[str, float]
) -> tuple[SenderClass, ...]:
    """The classes named in `mix`, each with its share; shares must sum to 1 (within 1e-6).

    An empty mix keeps the classes' own shares (from the TOML file), which must sum to 1 too.
    """
    by_name = {c.name: c for c in classes}
    if mix:
        unknown = [name for name in mix if name not in by_name]
        if unknown:
            raise HerdError(
                f"--mix: unknown sender class {unknown[0]!r} (known: {', '.join(by_name)})"
            )
        chosen = tuple(by_name[name].with_share(share) for name, share in mix.items())
    else:
        chosen = tuple(c for c in classes if c.share > 0)
    total = sum(c.share for c in chosen)
    if not chosen or abs(total - 1) > 1e-6:
        shares = ", ".join(f"{c.name}={c.share:g}" for c in chosen) or "none"
        raise HerdError(f"the shares of the sender mix must sum to 1, not {total:g} ({shares})")
    return chosen


def parse_mix(text: str) -> dict[str, float]:
    """`postfix=0.3,exim=0.2,provider=0.5` → {"postfix": 0.3, ...}."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        try:
            share = float(value)
        except ValueError:
            share = math.nan
        if not equals or not name.strip() or not 0 <= share <= 1:
            raise HerdError(f"--mix {text!r}: expected NAME=SHARE,... with shares in 0..1")
        mix[name.strip()] = share
    if not mix:
        raise HerdError(f"--mix {text!r}: expected NAME=SHARE,... with shares in 0..1")
    return mix


def _check_unique(classes: list[SenderClass], where: str) -> None:
    names = [c.name for c in classes]
    for name in names:
        if names.count(name) > 1:
            raise HerdError(f"{where}: sender class {name!r} is defined twice")


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise HerdError(f"{where}.{key}: expected a non-empty string")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HerdError(f"{where}: expected a number, not {value!r}")
    return float(value)


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HerdError(f"{where}: expected an integer, not {value!r}")
    return value


def _duration(value: Any, where: str) -> float:
    try:
        return parse_duration(value)
    except (TypeError, ValueError) as error:
        raise HerdError(f"{where}: {error}") from None


def _backoff(value: Any, where: str) -> Backoff:
    if not isinstance(value, dict):
        raise HerdError(f"{where}: expected a table {{ interval = '30m', factor = 1.5, ... }}")
    unknown = sorted(set(value) - {"interval", "factor", "maximum"})
    if unknown:
        raise HerdError(f"{where}: unknown key {unknown[0]!r}")
    maximum = value.get("maximum")
    try:
        return Backoff(
            interval=_duration(value.get("interval"), f"{where}.interval"),
            factor=_number(value.get("factor", 1.0), f"{where}.factor"),
            maximum=None if maximum is None else _duration(maximum, f"{where}.maximum"),
        )
    except ValueError as error:
        raise HerdError(f"{where}: {error}") from None
