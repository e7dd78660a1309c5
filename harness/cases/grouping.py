"""Which scenarios may share a sender instance, and which need one of their own.

Sharing a container is what makes a matrix run last as long as its longest scenario rather
than their sum, and separate receivers and domains keep per-destination state apart. What
sharing cannot keep apart is a sender's delivery process: Exim's queue runner delivers the
queue one message after another, so a blackhole or a slow greeting that holds one delivery for
five minutes delays every message queued behind it, and their retry intervals become "the
schedule minus the blocking". A scenario that holds deliveries (`Scenario.holds_deliveries`)
therefore gets its own instance; tests/matrix/test_isolation.py shows the others' intervals do
not change when such scenarios run beside them.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.scenarios import Scenario


def sharing_sets(scenarios: Sequence[Scenario]) -> list[list[Scenario]]:
    """`scenarios` split into the sets that share one sender instance each, order kept: every
    scenario that holds deliveries alone, the rest together."""
    shared = [s for s in scenarios if not s.holds_deliveries]
    alone = [[s] for s in scenarios if s.holds_deliveries]
    return ([shared] if shared else []) + alone
