"""Where the measured herd and the model part, per MTA: phase and bunching.

The model spreads a class's retries evenly: a retry due at T from many senders with unrelated
clocks arrives uniformly over [T, T + scan interval), and each message of a
message-anchored class follows its own schedule. Two things real fleets do break that, and
this measures both from the receiver's journal, per MTA:

- **phase**: containers of one MTA started together have queue runners that tick together
  (Exim's daemon starts a queue run at once and then every interval from its start,
  daemon.c; Postfix's queue manager scans the deferred queue every `queue_run_delay` from its
  start), so their first deliveries after the reopening fall within a window much narrower
  than the scan interval. The containers' start times are the harness's doing: the report
  gives their spread (in real time, so k times the wall seconds the starts took) beside the
  spread of first deliveries and the class's scan interval;
- **bunching**: a sender that tries its whole queue at each run (Sendmail) or keeps retry
  state per destination host (Exim after a host error) sends all its queued mail in the first
  run after the host's retry time, so the busiest bin holds most of its backlog; the model's
  busiest bin is put beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.herd.model.sender_classes import SenderClass
from harness.herd.reopen.measure import Measurement


@dataclass(frozen=True)
class MtaPhase:
    """One MTA's containers after the reopening: when each first delivered, how bunched."""

    mta: str
    containers: int
    outage_sessions: tuple[int, int]  #: fewest, most sessions one container opened in the outage
    ready_spread: float | None  #: real seconds between its first and last container's MTA ready
    first: tuple[float, float] | None  #: earliest and latest first delivery (real s)
    last: tuple[float, float] | None  #: earliest and latest last delivery (real s)
    scan_interval: float | None  #: the model class's queue scan, if it has one
    anchor: str | None  #: "message" or "destination"
    busiest_share: float | None  #: measured: share of its deliveries in its busiest bin
    model_busiest_share: float | None  #: the model's: share of its offered load in one bin


def mta_phases(
    measurement: Measurement,
    classes: Sequence[SenderClass],
    model_offered: Mapping[str, tuple[float, ...]],
    ready: Mapping[str, float] | None = None,
) -> list[MtaPhase]:
    """Per MTA of the run (see the module docstring); `ready`: sender label -> real seconds
    from its MTA being ready to the outage, whose spread sets the queue runners' phases."""
    ready = ready or {}
    by_name = {c.name: c for c in classes}
    phases = []
    for mta in dict.fromkeys(s.mta for s in measurement.senders):
        mine = [s for s in measurement.senders if s.mta == mta]
        firsts = [s.first_accepted for s in mine if s.first_accepted is not None]
        lasts = [s.last_accepted for s in mine if s.last_accepted is not None]
        curve = [
            v
            for v, t in zip(
                measurement.accepted_by_mta.get(mta, ()), measurement.bin_starts, strict=False
            )
            if t >= 0
        ]
        modelled = model_offered.get(mta, ())
        known = by_name.get(mta)
        starts = [ready[s.sender] for s in mine if s.sender in ready]
        phases.append(
            MtaPhase(
                mta=mta,
                containers=len(mine),
                outage_sessions=(
                    min(s.outage_connections for s in mine),
                    max(s.outage_connections for s in mine),
                ),
                ready_spread=max(starts) - min(starts) if starts else None,
                first=(min(firsts), max(firsts)) if firsts else None,
                last=(min(lasts), max(lasts)) if lasts else None,
                scan_interval=known.scan_interval if known else None,
                anchor=known.anchor if known else None,
                busiest_share=max(curve) / sum(curve) if sum(curve) else None,
                model_busiest_share=max(modelled) / sum(modelled) if sum(modelled) else None,
            )
        )
    return phases
