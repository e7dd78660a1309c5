"""Who speaks BDAT: each sender MTA against a receiver that offers CHUNKING (RFC 3030).

Exim 4.96 sends the message as BDAT chunks whenever CHUNKING is offered (`hosts_try_chunking =
*`, transports/smtp.c), so the receiver's chunk faults meet it; Postfix's SMTP client has no
BDAT and sends DATA. Both are facts the matrix's `bdat-*` cells rest on.
"""

from __future__ import annotations

import pytest

from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.receiver import Receiver
from harness.waiting import wait_until
from tests.targets.test_sender_targets import DOMAIN, journal_summary, start

pytestmark = pytest.mark.docker

#: What each bundled sender does when offered CHUNKING.
USES_BDAT = {"exim": True, "postfix": False}


def commands(receiver: Receiver, message_id: str) -> list[str]:
    with receiver.journal() as journal:
        return [e.text for e in journal.events(kind="command", message_id=message_id)]


@pytest.mark.parametrize("target_name", sorted(USES_BDAT))
def test_a_chunk_fault_meets_the_senders_that_use_bdat(
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    container_gateway: str,
    target_name: str,
) -> None:
    plan = '[[rule]]\nstage = "bdat"\nreply = "451 4.3.0 chunk refused"\n'
    receiver, target = start(receiver_factory, target_factory, container_gateway, target_name, plan)
    sent = target.submit([f"user@{DOMAIN}"], subject="chunked")
    seen = wait_until(
        lambda: [
            c for c in commands(receiver, sent.message_id) if c.split()[0] in ("BDAT", "DATA")
        ],
        timeout=60,
        what=f"{target_name} to send its message",
        seen=lambda: journal_summary(receiver),
    )
    with receiver.journal() as journal:
        fired = journal.rule_firings()
        replies = [e.text for e in journal.events(kind="reply") if e.stage == "bdat"]
    if USES_BDAT[target_name]:
        assert seen[0].startswith("BDAT "), seen
        assert seen[0].endswith(" LAST"), seen  # one chunk for a small message
        assert fired == {0: 1}
        assert replies == ["451 4.3.0 chunk refused"]
        # deferred, not bounced: the chunk's 451 is a temporary failure of the message
        queued = wait_until(
            lambda: [q for q in target.queue() if q.message_id == sent.message_id],
            timeout=30,
            what="the refused message in the queue",
            seen=lambda: str(target.queue()),
        )
        assert queued
    else:
        assert seen == ["DATA"], seen
        assert fired == {}
        assert replies == []
