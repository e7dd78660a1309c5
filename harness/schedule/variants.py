"""The receivers a schedule is measured against, as catalogue-format scenarios.

Each variant fails every attempt forever, so the only thing left to measure is when the MTA
tries again and when it stops. They are scenarios (not a separate model) so the matrix runner
runs them unchanged; `settle` ends a case as soon as the message bounced, which is the only way
these can settle.
"""

from __future__ import annotations

from enum import StrEnum

from harness.scenarios import Scenario, parse_scenario

#: Seven real days: past Postfix's 5-day and Exim's 4-day give-up, with two days' room for the
#: bounce (at k = 7200 a day is 12 wall seconds, and one run's bounce came after a one-day
#: margin); a case ends as soon as the message bounced, so the room costs nothing then.
OBSERVE = "7d"
CHECKS = '["retry-delayed", "retry-interval-30m", "give-up-4d"]'


class Variant(StrEnum):
    """How the receiver fails: a 4xx reply, a greeting that never comes, or nothing listening.

    `refused` leaves no trace at the receiver: its attempts come from the MTA's log
    (`harness.ledger.refused`).
    """

    REPLY_4XX = "4xx"
    BLACKHOLE = "blackhole"
    REFUSED = "refused"


_RULES = {
    Variant.REPLY_4XX: '[[rule]]\nstage = "rcpt"\nreply = "451 4.3.0 local error in processing"\n',
    Variant.BLACKHOLE: '[[rule]]\nstage = "greeting"\nstall = "forever"\n',
    Variant.REFUSED: "",
}
_SETTINGS = {Variant.REFUSED: 'refuse_until = "forever"\n'}
_DESCRIPTIONS = {
    Variant.REPLY_4XX: "451 4.3.0 to every RCPT, forever: the retry schedule.",
    Variant.BLACKHOLE: "Connections accepted, no greeting ever: the retry schedule.",
    Variant.REFUSED: "Nothing listens, every connection refused: the retry schedule.",
}


def scenario_for(variant: Variant) -> Scenario:
    """The scenario measuring `variant`; its id (and so its domain) is `schedule-<variant>`."""
    text = (
        f'[scenario]\nid = "schedule-{variant.value}"\nkind = "transport"\n'
        f'description = "{_DESCRIPTIONS[variant]}"\nobserve = "{OBSERVE}"\n'
        f"checks = {CHECKS}\nsettle = true\n{_SETTINGS.get(variant, '')}\n{_RULES[variant]}"
    )
    return parse_scenario(text, source=f"<schedule variant {variant.value}>")
