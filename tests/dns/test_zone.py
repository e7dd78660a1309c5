"""Test zones from TOML: records in master-file syntax, phases, faults, and bad input named."""

from __future__ import annotations

import tomllib

import pytest

from harness.dns import Failure, parse_zone
from harness.errors import ZoneError

GOOD = """
[zone]
origin = "Libero.Test."
ttl = "5m"
records = '''
@    MX   10 mx1   ; the primary
mx1  A    172.30.0.11
'''

[[zone.phase]]
from = "2h"
until = "6h"
withdraw = ["@ MX", "mx1"]
records = "@ MX 20 mx2"

[[zone.fault]]
name = "*.libero.test."
type = "aaaa"
answer = "servfail"
until = "1h"
"""


def zone_of(text: str) -> object:
    return tomllib.loads(text)["zone"]


def test_a_zone_reads_records_phases_and_faults() -> None:
    zone = parse_zone(zone_of(GOOD), source="z.toml")
    assert zone.origin == "libero.test."
    assert [(r.name, r.rtype, r.rr.ttl, r.phase) for r in zone.records] == [
        ("libero.test.", "MX", 300, 0),
        ("mx1.libero.test.", "A", 300, 0),
        ("libero.test.", "MX", 300, 1),
    ]
    assert [r.line for r in zone.served(0)] == ["@    MX   10 mx1", "mx1  A    172.30.0.11"]
    assert [r.line for r in zone.served(3 * 3600)] == ["@ MX 20 mx2"]
    assert zone.lookup("mx1.libero.test.", "A", 3 * 3600) == ([], False)  # withdrawn: NXDOMAIN
    [fault] = zone.faults
    assert (fault.rtype, fault.failure) == ("AAAA", Failure.SERVFAIL)
    assert zone.fault("mx1.libero.test.", "AAAA", 10) is fault
    assert zone.fault("mx1.libero.test.", "AAAA", 3600) is None  # its window has ended
    assert zone.fault("mx1.libero.test.", "A", 10) is None


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (
            ("records = '''\n@ MX 10 mx1\nmx1 A 300.1.1.1\n'''", ""),
            r"z\.toml: \[zone\]: records line 2 'mx1 A 300\.1\.1\.1': .*0-255",
        ),
        (
            ("records = '''\n@ MX 10 mx1\nmx1 BOGUS x\n'''", ""),
            r"records line 2 'mx1 BOGUS x': .*BOGUS",
        ),
        (("records = '''\n@ MX 10 mx1\n'''", "records = 5"), r"records must be master-file lines"),
        (('answer = "servfail"', 'answer = "later"'), r"\[\[zone.fault\]\] #1: answer 'later' is"),
        (('until = "6h"', 'until = "1h"'), r"\[\[zone.phase\]\] #1: until \(1h\) must come after"),
        (('ttl = "5m"', 'ttl = "soon"'), r"\[zone\] ttl: 'soon' is not a duration"),
        (('ttl = "5m"', 'ttl = "5m"\nserial = 3'), r"\[zone\]: unknown key serial"),
        (('withdraw = ["@ MX", "mx1"]', 'withdraw = ["@ MX 10"]'), r"withdraw '@ MX 10'"),
        (('type = "aaaa"', 'type = "SRV"'), r"type 'SRV' is not one of"),
    ],
)
def test_bad_input_names_the_file_the_key_and_the_record(
    mutation: tuple[str, str], message: str
) -> None:
    old, new = mutation
    text = GOOD
    if old.startswith("records = '''"):
        start = text.index("records = '''")
        end = text.index("'''", start + 13) + 3
        text = text[:start] + (new or old) + text[end:]
    else:
        assert old in text
        text = text.replace(old, new)
    with pytest.raises(ZoneError, match=message) as caught:
        parse_zone(zone_of(text), source="z.toml")
    assert "\n" not in str(caught.value)


def test_a_zone_needs_an_origin_and_a_record() -> None:
    with pytest.raises(ZoneError, match=r"z: \[zone\] origin: a domain name is needed"):
        parse_zone({"records": "@ A 192.0.2.1"}, source="z")
    with pytest.raises(ZoneError, match="has no records"):
        parse_zone({"origin": "x.test"}, source="z")
    zone = parse_zone({"records": "@ A 192.0.2.1"}, source="z", default_origin="x.test")
    assert zone.origin == "x.test."
