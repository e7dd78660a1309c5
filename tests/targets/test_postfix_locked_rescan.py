"""Postfix's queue manager meeting a queue file its delivery agent still holds.

qmgr takes a deferred file back when its time is at most one second ahead (qmgr_active.c,
qmgr_active_feed); a delivery agent replies before it closes the file (deliver_request.c,
deliver_request_done). With a 1-second backoff and a 1-second scan, as time compression makes
them, the rescan can find the file still locked: qmgr logs "skipped, still being delivered" and
parks it in `incoming` for a hard-coded 60 s that no time scale shortens. The harness keeps the
backoffs at 2 s so this does not happen by itself, and reports it as a compression artifact when
it does. Here a lock held from inside the container makes it happen on purpose.
"""

from __future__ import annotations

import pytest

from harness import parse_plan
from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.targets import BOUNCE_DOMAIN, RouteTable
from harness.targets.postfix.driver import BACKOFF_FLOOR, LOCKED_SKIP
from harness.waiting import wait_until

pytestmark = pytest.mark.docker

#: A real hour in a wall second: Postfix's 300 s backoff would be 0.08 s, its scan 1 s.
TIME_SCALE = 3600.0
DOMAIN = "receiver.test"
DEFER_AT_RCPT = '[[rule]]\nstage = "rcpt"\nreply = "451 4.3.0 try again later"\n'
#: Hold a shared lock on the message's queue file (wherever it is) for four seconds: qmgr scans
#: every second and wants an exclusive lock. The file moves between queues, so opening it by
#: path can miss; the loop tries again.
HOLD_LOCK = (
    "for i in $(seq 100); do "
    "f=$(find /var/spool/postfix/deferred /var/spool/postfix/active -type f -name {queue_id}); "
    '[ -n "$f" ] && flock -s -n "$f" sleep 4 && exit 0; sleep 0.05; done; exit 1'
)


def test_a_rescan_of_a_locked_queue_file_is_a_compression_artifact(
    receiver_factory: ReceiverFactory, target_factory: TargetFactory, container_gateway: str
) -> None:
    receiver = receiver_factory(
        parse_plan(DEFER_AT_RCPT), listen=[f"{container_gateway}:0"], time_scale=TIME_SCALE
    )
    routes = RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], receiver.host, receiver.port)
    target = target_factory("postfix", routes, time_scale=TIME_SCALE)
    for name, floor in BACKOFF_FLOOR.items():
        parameter = target.scaling.get(name)
        assert parameter.configured_seconds == floor, parameter
        assert "unlocks it" in parameter.note, parameter

    submission = target.submit([f"a@{DOMAIN}"])

    def queue_id() -> list[str]:
        return [m.queue_id for m in target.queue() if m.message_id == submission.message_id]

    [found] = wait_until(queue_id, timeout=30, what="the message in Postfix's queue")
    assert target.compression_artifacts([submission.message_id]) == ()

    target.exec(HOLD_LOCK.format(queue_id=found))
    artifacts = target.compression_artifacts([submission.message_id])
    assert len(artifacts) >= 1, target.log_lines()[-20:]
    assert found in artifacts[0]
    assert LOCKED_SKIP in artifacts[0]
    # Another message's artifacts are not this one's.
    assert target.compression_artifacts(["ms" + "0" * 32]) == ()
    # qmgr parked it in incoming, where an idle Postfix leaves it.
    [parked] = [m for m in target.queue() if m.message_id == submission.message_id]
    assert parked.status == "incoming", parked
