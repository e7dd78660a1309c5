"""The herd's client addresses: ranges, networks and lists; loopback only unless remote targets
are allowed; each user its own address, and distributed workers disjoint ones."""

from __future__ import annotations

import pytest

from harness.errors import MailstormError
from harness.herd.run.source_addresses import SourcePool, parse_source_addresses


def test_ranges_networks_and_lists_expand_in_order_without_repeats() -> None:
    addresses = parse_source_addresses("127.0.0.2-127.0.0.4, 127.0.1.0/30,127.0.0.3")
    assert addresses == ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.1.1", "127.0.1.2")
    assert parse_source_addresses("") == ()
    assert parse_source_addresses("::1") == ("::1",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1", "not a loopback address"),
        ("127.0.0.9-127.0.0.2", "from a lower to a higher"),
        ("127.0.0.1-::1", "one family"),
        ("localhost", "does not appear to be an IPv4 or IPv6 address"),
        ("127.0.0.0/8,127.1.0.0/16", "more than 65536"),
    ],
)
def test_bad_addresses_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(MailstormError, match=message):
        parse_source_addresses(text)


def test_a_remote_address_is_allowed_when_remote_targets_are() -> None:
    assert parse_source_addresses("172.30.0.200", allow_remote=True) == ("172.30.0.200",)


def test_two_workers_hand_out_disjoint_addresses_until_the_pool_is_used_up() -> None:
    addresses = parse_source_addresses("127.0.0.2-127.0.0.11")
    first, second = SourcePool(addresses), SourcePool(addresses)
    taken = [first.take(0, 2) for _ in range(5)] + [second.take(1, 2) for _ in range(5)]
    assert set(taken) == set(addresses)  # ten users, ten hosts
    assert len(taken) == len(addresses)
    assert SourcePool(()).take() is None


def test_a_worker_with_its_own_addresses_uses_all_of_them_not_a_stride() -> None:
    own = {"MAILSTORM_HERD_SOURCE_ADDRESSES": "172.30.0.2 172.30.0.3 172.30.0.4"}
    pool = SourcePool.for_process(("127.0.0.2", "127.0.0.3"), own)
    assert [pool.take(1, 2) for _ in range(4)] == [
        "172.30.0.2",
        "172.30.0.3",
        "172.30.0.4",
        "172.30.0.2",
    ]
    shared = SourcePool.for_process(("127.0.0.2", "127.0.0.3"), {})
    assert [shared.take(1, 2) for _ in range(2)] == ["127.0.0.3", "127.0.0.3"]
