"""Scenario files: a `[scenario]` table and the fault plan's `[[rule]]`s, validated together.

The format is documented in docs/scenarios.md; errors name the file, the key and the problem,
like the plan loader's, because the plan loader does that part.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.durations import parse_duration
from harness.errors import PlanError
from harness.receiver.plan_loader import plan_from_mapping, read_text, rule_lines
from harness.results.check_catalogue import CHECK_CLAUSES
from harness.scenarios.model import Kind, Scenario, Tier
from harness.scenarios.mx import parse_mx_hosts, placeholder_addresses, scenario_zone

_KEYS = frozenset(
    {
        "id",
        "kind",
        "description",
        "checks",
        "observe",
        "tier",
        "messages",
        "recipients",
        "spread",
        "size",
        "refuse_until",
        "settle",
        "fates_vary",
    }
)
_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9._+-]+$")


def load_scenario(path: str | Path) -> Scenario:
    """A scenario TOML file; errors name the file, the key and the problem."""
    return parse_scenario(read_text(path, "scenario"), source=str(path))


def parse_scenario(text: str, *, source: str = "<inline>") -> Scenario:
    """A scenario from TOML text; `source` names it in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PlanError(f"{source}: invalid TOML: {error}") from None
    plan = plan_from_mapping(
        {key: value for key, value in document.items() if key not in ("scenario", "mx", "zone")},
        source=source,
        rule_lines=rule_lines(text),
    )
    table = document.get("scenario")
    if not isinstance(table, Mapping):
        raise PlanError(f"{source}: key 'scenario': a [scenario] table is required")
    scenario = _scenario(table, plan, source)
    mx = parse_mx_hosts(document.get("mx", []), source)
    zone = document.get("zone")
    if zone is not None and not isinstance(zone, Mapping):
        raise PlanError(f"{source}: key 'zone': expected a table ([zone])")
    if (mx or zone is not None) and scenario.refuse_until is not None:
        raise PlanError(
            f"{source}: key 'scenario.refuse_until': a scenario with MX hosts refuses per host "
            "([[mx]] refuse_until)"
        )
    # The zone is checked now, on documentation addresses, so that a bad record is named
    # when the scenario is loaded, not when a run has started its network.
    if mx or zone is not None:
        scenario_zone(scenario.domain, mx, zone, placeholder_addresses(mx), source=source)
    return dataclasses.replace(scenario, mx=mx, zone=zone)


def _scenario(table: Mapping[str, Any], plan: Any, source: str) -> Scenario:
    def error(key: str, problem: str) -> PlanError:
        return PlanError(f"{source}: key 'scenario.{key}': {problem}")

    for key in table:
        if key not in _KEYS:
            raise error(key, f"unknown key (known keys: {', '.join(sorted(_KEYS))})")
    scenario_id = table.get("id")
    if not isinstance(scenario_id, str) or not _ID.match(scenario_id):
        raise error(
            "id", f"must be lower-case letters, digits, dots and dashes, got {scenario_id!r}"
        )
    kind = _choice(table.get("kind", "reply"), Kind, "kind", error)
    tier = _choice(table.get("tier", "fine"), Tier, "tier", error)
    checks = table.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise error("checks", "must be a list of check ids")
    for check in checks:
        if check not in CHECK_CLAUSES:
            known = ", ".join(sorted(CHECK_CLAUSES))
            raise error("checks", f"unknown check {check!r} (known: {known})")
    recipients = table.get("recipients", ["user"])
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(r, str) and _LOCAL_PART.match(r) for r in recipients)
    ):
        raise error("recipients", 'must be a non-empty list of local parts (e.g. ["user"])')
    messages = table.get("messages", 1)
    size = table.get("size", 1024)
    for key, value in (("messages", messages), ("size", size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise error(key, f"must be a whole number >= 1, got {value!r}")
    settle = table.get("settle", True)
    fates_vary = table.get("fates_vary", False)
    for key, flag in (("settle", settle), ("fates_vary", fates_vary)):
        if not isinstance(flag, bool):
            raise error(key, f"must be true or false, got {flag!r}")
    refuse = table.get("refuse_until")
    return Scenario(
        id=scenario_id,
        kind=kind,
        description=str(table.get("description", "")),
        plan=plan,
        checks=tuple(checks),
        observe=_duration(table.get("observe", "2h"), "observe", error),
        tier=tier,
        messages=messages,
        recipients=tuple(recipients),
        spread=_duration(table.get("spread", 0), "spread", error),
        size=size,
        refuse_until=math.inf
        if refuse == "forever"
        else (None if refuse is None else _duration(refuse, "refuse_until", error)),
        settle=settle,
        fates_vary=fates_vary,
        source=source,
    )


def _duration(value: Any, key: str, error: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as problem:
        raise error(key, str(problem)) from None


def _choice(value: Any, enum: Any, key: str, error: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise error(
            key, f"must be one of {', '.join(e.value for e in enum)}, got {value!r}"
        ) from None
