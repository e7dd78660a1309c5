"""What a check judges: one case's evidence, and what the sender's configuration implies.

Kept apart from the checks themselves so that each family of checks (SMTP replies and retries
in `checks`, DNS and MX in `mx_checks`) takes the same input without importing the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.ledger import CaseEvidence
from harness.results import Outcome


@dataclass(frozen=True)
class RetryWindow:
    """When the sender's own configuration lets it retry after a temporary failure.

    A retry interval is partly the MTA's phase, not its policy: Exim's first retry comes at the
    first queue run after its rule's 15 minutes, so anywhere from 15 to 45 minutes after the
    failure depending on where the 30-minute queue runner stands; Postfix's at the first
    deferred-queue scan after its backoff. One run draws one phase, so the shortest measured
    interval would say "under 30 minutes" in one run and "30 minutes, within the uncertainty"
    in the next. The interval checks therefore judge the shortest wait the configuration
    allows (`stock_shortest`, exact at stock settings) once the measured waits show the MTA
    keeping to that configuration (within `earliest`..`latest` of this run, ± the run's time
    uncertainty), and the measurement alone where they do not.
    """

    #: real seconds: the shortest wait after a failure that the stock configuration allows
    stock_shortest: float
    #: ± real seconds on it (the MTA's own whole-second slack, at stock settings)
    stock_uncertainty: float
    #: real seconds: this run's (scaled) first-retry window after a failure, earliest..latest
    earliest: float
    latest: float
    #: where `stock_shortest` comes from, for people: the setting and how it is applied
    basis: str


@dataclass(frozen=True)
class GiveUpWindow:
    """When the sender's own configuration lets it give up on a message that keeps failing.

    The give-up comes at the first attempt (Postfix) or queue run (Exim) after the configured
    limit, so the measured bounce is one draw from a window; at k = 1440 Exim's lies 0 to 24
    real minutes after its 4 days, with ± 24 minutes on the measurement, and one run would say
    "4 days and more" and the next "4 days is within it". So `give-up-4d` judges the
    configured limit (`stock_seconds`, exact: a setting, not a measurement) once the measured
    bounce keeps to this run's window, and the measurement alone where it does not.
    """

    #: real seconds after the first failure: the stock configuration's limit
    stock_seconds: float
    #: real seconds: this run's (scaled) give-up window, earliest..latest
    earliest: float
    latest: float
    #: where `stock_seconds` comes from, for people
    basis: str


@dataclass(frozen=True)
class CheckInput:
    evidence: CaseEvidence
    #: the codes the scenario's receiver answered with, e.g. the 550 a DSN must quote
    reply_codes: tuple[int, ...] = ()
    #: ± real seconds on times the sender's retry clock decides (intervals, give-up, bounce
    #: times): a threshold within it of the measured value is inconclusive
    time_uncertainty: float = 0.0
    #: the sender's configured first-retry window; None judges the measured intervals alone
    retry_window: RetryWindow | None = None
    #: the sender's configured give-up window; None judges the measured bounce alone
    give_up_window: GiveUpWindow | None = None
    #: DNS/MX cases: each MX host's preference (host label -> preference), as the zone has it
    mx_preferences: Mapping[str, int] = field(default_factory=dict)


CheckFunction = Callable[[CheckInput], tuple[Outcome, str, dict[str, object]]]
