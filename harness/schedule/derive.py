"""Reading a retry schedule off one case's evidence.

The ledger gives attempts and DSNs in real MTA seconds since injection; a schedule is the shape
read off them (first retry, every interval, the longest, the delay warning, the give-up), kept
with what it was measured on (target, version, time scale, the target's distorted parameters),
because a schedule measured under compression means nothing without how compressed it was.
"""

from __future__ import annotations

from harness.ledger import CaseEvidence
from harness.results import Fate, Method, ScaledParameter, Schedule


def derive_schedule(
    evidence: CaseEvidence,
    *,
    target: str,
    version: str,
    variant: str,
    time_scale: float,
    parameters: tuple[ScaledParameter, ...] = (),
    method: Method = Method.SCALED_CONFIG,
) -> Schedule:
    """Read the schedule off one case's evidence (one message).

    The warning is the first DSN whose recipients are all `delayed`; the give-up is the first
    DSN with a `failed` recipient or, when the DSN itself did not come back, the time the ledger
    settled the recipient as bounced.
    """
    warning = next(
        (
            t
            for t, _, report in evidence.dsns
            if report.recipients and all(b.action == "delayed" for b in report.recipients)
        ),
        None,
    )
    failure = evidence.failure_dsn()
    give_up = failure[0] if failure else None
    if give_up is None:
        bounced = [f.settled_t for f in evidence.fates if f.fate is Fate.BOUNCED and f.settled_t]
        give_up = min(bounced) if bounced else None
    return Schedule(
        target=target,
        version=version,
        variant=variant,
        time_scale=time_scale,
        attempts=tuple(sorted(a.t for a in evidence.attempts)),
        warning=warning,
        give_up=give_up,
        observed_for=evidence.observed_for,
        parameters=parameters,
        method=method,
    )
