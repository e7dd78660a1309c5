"""dma's driver without a container: its syslog lines as records, on real lines (dma 0.13 on
the fast clock): `data/dma/outcomes.log` (a@ accepted, b@ 450 at RCPT and retried, c@ 550 at
RCPT and bounced, its notice delivered), `refused.log` (nothing listening), `ehlo.log` (421
to EHLO: bounced at once, and the notice, refused the same way, discarded) and `blackhole.log`
(no greeting: every attempt's process dies at CON_TIMEOUT and logs no outcome), its queue
listing, and its one smarthost."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.targets import BOUNCE_DOMAIN, REFUSED_FIELD, LogRecord, RouteTable
from harness.targets.base import TargetError
from harness.targets.dma.driver import DmaTarget, attempt_records, parse_queue_listing
from harness.targets.routes import Hop

DATA = Path(__file__).parent / "data" / "dma"
SMARTHOST = Hop("172.17.0.1", 4001)
MESSAGE_ID = "ms2cd09ccdd4914e6aa4268b9be6f82ba4"


def target(routes: dict[str, list[Hop]] | None = None) -> DmaTarget:
    table = routes or {"a.test": [SMARTHOST], BOUNCE_DOMAIN: [Hop("172.17.0.1", 4002)]}
    return DmaTarget(RouteTable.of(table), time_scale=60)  # not started: no container


def records(name: str) -> list[LogRecord]:
    reader = target()
    lines = (DATA / name).read_text().splitlines()
    return attempt_records([r for line in lines if (r := reader.parse_log_line(line))])


def outcomes(found: list[LogRecord], recipient: str) -> list[str]:
    return [
        r.fields["status"]
        for r in found
        if r.fields.get("to", "").startswith(f"{recipient}@") and r.fields["status"] != "queued"
    ]


def test_each_recipient_is_queued_on_its_own_and_each_attempt_is_one_record() -> None:
    found = records("outcomes.log")
    queued = [r for r in found if r.fields["status"] == "queued" and r.fields["from"]]
    assert sorted(r.fields["to"].split("@")[0] for r in queued) == ["a", "b", "c"]
    assert len({r.queue_id for r in queued}) == 3  # a queue file, and a process, per recipient
    assert outcomes(found, "a") == ["sent"]
    assert outcomes(found, "b") == ["deferred"] * 4  # the 450, then every cron flush
    assert outcomes(found, "c") == ["bounced", "bounced"]  # the 550, then `bouncing as`
    [deferral] = [r for r in found if r.fields["status"] == "deferred"][:1]
    assert deferral.fields["relay"] == "172.17.0.1"
    assert "450 4.2.0 busy" in deferral.text


def test_the_notice_is_a_message_of_the_null_sender_to_the_original_sender() -> None:
    found = records("outcomes.log")
    [bouncing] = [r for r in found if "bounce" in r.fields]
    [notice] = [
        r
        for r in found
        if r.fields["status"] == "queued"
        and (r.queue_id or "").startswith(bouncing.fields["bounce"] + ".")
    ]
    assert notice.fields["from"] == ""
    assert notice.fields["to"] == bouncing.fields["from"]


def test_a_refused_connection_is_an_attempt_marked_refused() -> None:
    found = [r for r in records("refused.log") if r.fields["status"] != "queued"]
    key, value = REFUSED_FIELD
    assert [(r.fields["relay"], r.fields.get(key)) for r in found] == [("none", value)] * 3


def test_a_4xx_to_ehlo_bounces_and_its_notice_is_discarded_when_refused_too() -> None:
    found = records("ehlo.log")
    assert outcomes(found, "a") == ["bounced", "bounced"]
    notice = [r for r in found if r.fields.get("from") == "" and r.fields["status"] != "queued"]
    assert [r.fields["status"] for r in notice] == ["bounced"]
    assert "421 4.3.2" in notice[0].text
    assert "can not bounce a bounce message" in (DATA / "ehlo.log").read_text()


def test_an_attempt_whose_process_died_is_a_deferral_and_the_last_one_is_open() -> None:
    found = [r for r in records("blackhole.log") if r.fields["status"] != "queued"]
    assert len(found) == 11  # ten attempts that ended, one still open
    assert {r.fields["status"] for r in found[:-1]} == {"deferred"}
    assert found[-1].fields["status"] == "open"
    assert all(r.fields["relay"] == "172.17.0.1" for r in found)
    assert all("no outcome logged" in r.text for r in found)


def test_the_queue_listing_gives_one_message_per_recipient_file() -> None:
    sender = f"mailstorm+{MESSAGE_ID}@bounces.mailstorm.test"
    listing = (
        "== Q1de07a.5580582002a0 1796460000\nID: 1de07a.5580582002a0\n"
        f"Sender: {sender}\nRecipient: b@receiver.test\n"
        "== Q1de070.558058204840 1796460100\nID: 1de070.558058204840\nSender: \n"
        f"Recipient: {sender}\n"
    )
    original, notice = parse_queue_listing(listing)
    assert original.message_id == MESSAGE_ID
    assert [r.address for r in original.recipients] == ["b@receiver.test"]
    assert original.arrival is not None
    assert original.arrival.timestamp() == 1796460000
    assert (notice.sender, notice.message_id) == ("", None)


def test_an_unreadable_queue_file_is_an_error() -> None:
    with pytest.raises(TargetError, match="cannot read"):
        parse_queue_listing("== Qx 12\nID: x\n")


def test_one_smarthost_for_every_domain_but_the_bounce_domain() -> None:
    assert target().smarthost() == SMARTHOST
    two = {
        "a.test": [SMARTHOST],
        "b.test": [Hop("172.17.0.1", 4003)],
        BOUNCE_DOMAIN: [SMARTHOST],
    }
    with pytest.raises(TargetError, match="one smarthost"):
        target(two).smarthost()
