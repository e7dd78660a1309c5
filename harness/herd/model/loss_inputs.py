"""What the loss curves are made of, read from the files that hold the evidence.

- Measured classes: a `schedule.json` (`mailstorm schedule` or `matrix`), one class per target
  and failure mode it was measured for (`load_schedule_json(path, variants=(mode,))`).
- Documented providers: `documented_providers.toml`, each parameter's source cited.
- A `matrix.json`: how each target answered a 5xx outage (`outage-72h-550`: the share it
  bounced at once) and which targets have no queue (`outage-72h-451` bounced at once, nothing
  queued or delivered later): those are `NoQueueSender`s, every failure final.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import HerdError, MatrixFormatError
from harness.herd.model.loaders import load_schedule_json, load_senders_toml
from harness.herd.model.loss import QUEUEING_MODES, LossInput, NoQueueSender
from harness.herd.model.sender_classes import SenderClass
from harness.results import CaseResult, read_matrix_json

#: The bundled documented providers (Exchange, SendGrid, Mailgun, SES, Gmail).
DOCUMENTED_PROVIDERS = Path(__file__).with_name("documented_providers.toml")
#: The matrix cells the loss curves read: the 72-hour outages answered 5xx and 4xx.
OUTAGE_5XX = "outage-72h-550"
OUTAGE_4XX = "outage-72h-451"


@dataclass(frozen=True)
class MatrixEvidence:
    """What a matrix says of 5xx outages and of senders without a queue."""

    at_once_5xx: Mapping[str, float]
    at_once_evidence: Mapping[str, str]
    no_queue: Mapping[str, str]  #: target -> the evidence that it has no queue


def read_matrix_evidence(path: Path) -> MatrixEvidence:
    """The 5xx shares and no-queue senders of the matrix at `path` (cells in error skipped).

    A message counts as refused at once when it was not delivered and the receiver saw one
    attempt of it: the sender gave up on its first reply (whenever its bounce arrived: dma's
    goes through the same smarthost and waited for the outage's end)."""
    try:
        matrix = read_matrix_json(path)
    except MatrixFormatError as error:
        raise HerdError(str(error)) from None
    at_once: dict[str, float] = {}
    evidence: dict[str, str] = {}
    no_queue: dict[str, str] = {}
    for target in matrix.targets:
        cell = matrix.case(OUTAGE_5XX, target.name)
        if cell is not None and _usable(cell):
            at_once[target.name] = _refused_at_once(cell) / len(cell.recipients)
            evidence[target.name] = (
                f"matrix cell {OUTAGE_5XX} in {path}: {_fates(cell)}; "
                f"{_refused_at_once(cell)} of {len(cell.recipients)} tried once and not again"
            )
        queued = matrix.case(OUTAGE_4XX, target.name)
        if (
            queued is not None
            and _usable(queued)
            and _refused_at_once(queued) == len(queued.recipients)
        ):
            no_queue[target.name] = (
                f"measured: no queue; matrix cell {OUTAGE_4XX} in {path}: {_fates(queued)}, "
                "each message tried once, on its first 451 failed for good"
            )
    return MatrixEvidence(at_once, evidence, no_queue)


def _usable(cell: CaseResult) -> bool:
    return cell.error is None and bool(cell.recipients)


def _refused_at_once(cell: CaseResult) -> int:
    """Messages of the cell not delivered, of which the receiver saw a single attempt."""
    tries: dict[str, int] = {}
    for attempt in cell.attempts:
        if attempt.message_id is not None:
            tries[attempt.message_id] = tries.get(attempt.message_id, 0) + 1
    return sum(
        1
        for r in cell.recipients
        if r.fate in ("bounced", "lost") and tries.get(r.message_id, 0) == 1
    )


def _fates(cell: CaseResult) -> str:
    return ", ".join(f"{n} {fate}" for fate, n in cell.fates.items() if n)


def build_loss_input(
    *,
    schedule: Path | None,
    matrix: Path | None,
    providers: Path | None = DOCUMENTED_PROVIDERS,
    senders: Path | None = None,
    mix: Mapping[str, float] | None = None,
) -> LossInput:
    """The classes and evidence from the files given; the mix from `mix` (NAME -> share), or
    equal shares over every class and no-queue sender whose name has no `@` (a Debian release
    of a bundled MTA counts once)."""
    classes: dict[str, SenderClass] = {}
    schedules: dict[str, tuple[SenderClass, ...]] = {}
    if schedule is not None:
        for measured in load_schedule_json(schedule):
            classes[measured.name] = measured
        for mode in QUEUEING_MODES:
            schedules[mode] = load_schedule_json(schedule, variants=(mode,), required=False)
    for path in (providers, senders):
        if path is not None:
            for stated in load_senders_toml(path):
                classes[stated.name] = stated
    evidence = read_matrix_evidence(matrix) if matrix is not None else None
    no_queue = dict(evidence.no_queue) if evidence else {}
    for name in no_queue:
        classes.pop(name, None)
    names = [*classes, *no_queue]
    if mix:
        unknown = [name for name in mix if name not in names]
        if unknown:
            known = ", ".join(names)
            raise HerdError(f"--mix: unknown sender class {unknown[0]!r} (known: {known})")
        shares = {name: mix.get(name, 0.0) for name in names}
    else:
        chosen = [name for name in names if "@" not in name]
        shares = {name: (1.0 / len(chosen) if name in chosen else 0.0) for name in names}
    total = sum(shares.values())
    if abs(total - 1) > 1e-6:
        raise HerdError(f"--mix: the shares must sum to 1, not {total:g}")
    return LossInput(
        classes=tuple(replace(c, share=shares[c.name]) for c in classes.values()),
        schedules=schedules,
        at_once_5xx=dict(evidence.at_once_5xx) if evidence else {},
        at_once_evidence=dict(evidence.at_once_evidence) if evidence else {},
        no_queue=tuple(NoQueueSender(n, shares[n], source) for n, source in no_queue.items()),
    )
