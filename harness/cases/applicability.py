"""Which scenarios do not apply to a sender, and why: the cells that say "n/a" and are not run.

A scenario applies when its fault can reach the sender the way it would in the world. Some
cannot, by the sender's design, and the driver says so with the source:

- A relay to one smarthost looks up no MX (msmtp, nullmailer): a DNS/MX scenario would measure
  the smarthost, another MTA (`SenderTarget.dns_not_applicable`).
- A sender that delivers one message at a time never opens the second session a session limit
  refuses (nullmailer): the limit would never fire, and a cell whose fault never fired measured
  the default accept (`SenderTarget.one_session_at_a_time`).
- A sender that gives every recipient a transaction of its own (dma) never sends the second
  recipient a "too many recipients" limit refuses (`SenderTarget.one_recipient_per_transaction`).
"""

from __future__ import annotations

from harness.scenarios import Scenario
from harness.targets import SenderTarget


def not_applicable_reason(driver: type[SenderTarget], scenario: Scenario) -> str | None:
    """Why `scenario` does not apply to the sender `driver` drives; None when it does."""
    if scenario.uses_dns and driver.dns_not_applicable is not None:
        return driver.dns_not_applicable
    if scenario.limits_concurrent_sessions and driver.one_session_at_a_time is not None:
        return driver.one_session_at_a_time
    if (
        scenario.limits_recipients_per_transaction
        and driver.one_recipient_per_transaction is not None
    ):
        return driver.one_recipient_per_transaction
    return None
