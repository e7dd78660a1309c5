"""The harness DNS: test zones (`Zone`, read from TOML by `parse_zone`) served authoritatively
over UDP and TCP by `DnsServer`, which journals every question (`DnsQuery`).

It stands beside the receiver: the receiver plays the MX hosts' SMTP, this plays their DNS, so
an MTA's lookups and its attempts can be read side by side.
"""

from harness.dns.server import DnsQuery, DnsServer
from harness.dns.zone import (
    Failure,
    Fault,
    Record,
    Window,
    Withdrawal,
    Zone,
    load_zone,
    parse_zone,
)

__all__ = [
    "DnsQuery",
    "DnsServer",
    "Failure",
    "Fault",
    "Record",
    "Window",
    "Withdrawal",
    "Zone",
    "load_zone",
    "parse_zone",
]
