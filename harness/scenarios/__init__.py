"""Conformance scenarios: fault plans plus what to send and how long to observe."""

from harness.scenarios.catalogue import CATALOGUE_DIR, load_catalogue, select
from harness.scenarios.loader import load_scenario, parse_scenario
from harness.scenarios.model import Kind, Scenario, Tier
from harness.scenarios.mx import (
    FAMILIES,
    HostAddresses,
    MxHostSpec,
    placeholder_addresses,
    scenario_zone,
)

__all__ = [
    "CATALOGUE_DIR",
    "FAMILIES",
    "HostAddresses",
    "Kind",
    "MxHostSpec",
    "Scenario",
    "Tier",
    "load_catalogue",
    "load_scenario",
    "parse_scenario",
    "placeholder_addresses",
    "scenario_zone",
    "select",
]
