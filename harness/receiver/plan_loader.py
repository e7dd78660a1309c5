"""Builds a `FaultPlan` from TOML (a file or text) or from a plain mapping, validating everything.

Every problem is reported as a `PlanError` naming the file, the rule (with the line of its
`[[rule]]` header when it came from a file), the key and what is wrong, because a plan that
silently does something else than its author meant would make every verdict built on it wrong.

The format is documented, with every key, in docs/fault-plans.md.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.durations import parse_duration
from harness.errors import PlanError
from harness.receiver.plan import (
    DEFAULT_CAPABILITIES,
    STAGE_ALIASES,
    STAGES_WITH_RECIPIENTS,
    STAGES_WITH_SENDER,
    Accept,
    Action,
    AttemptRange,
    Capability,
    Drop,
    DropMode,
    FaultPlan,
    Match,
    Outcome,
    Pattern,
    Reply,
    Rule,
    Stage,
)

_PLAN_KEYS = frozenset({"name", "description", "seed", "rule", "capabilities"})
_PATTERN_KEYS = ("listener", "client", "helo", "sender", "recipient", "recipient_domain")
_RULE_KEYS = frozenset(
    {
        "name",
        "stage",
        *_PATTERN_KEYS,
        "message_attempt",
        "pair_attempt",
        "after",
        "before",
        "sessions_above",
        "client_sessions_above",
        "greylist",
        "probability",
        "stall",
        "reply",
        "drop",
        "drop_after_bytes",
        "keep_message",
        "accept",
        "min_fired",
    }
)
_REPLY_KEYS = frozenset({"code", "enhanced", "text", "close"})
_REPLY_TEXT = re.compile(r"^(?P<code>\d{3})(?:[ -](?P<rest>.*))?$", re.DOTALL)
_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_TEMPLATE_FIELDS = {"sender": "s", "recipient": "r", "client": "c", "helo": "h"}


def load_plan(path: str | Path, *, other_sections: Collection[str] = ()) -> FaultPlan:
    """Read and validate a plan file; `other_sections` are top-level keys owned by the caller."""
    return parse_plan(read_text(path, "plan"), source=str(path), other_sections=other_sections)


def read_text(path: str | Path, what: str) -> str:
    """A plan or scenario file's text, or a `PlanError` saying why it cannot be read."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{file}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"{file}: cannot read {what}: {error}") from None


def rule_lines(text: str) -> list[int]:
    """The line numbers of the `[[rule]]` headers, so errors can point at a rule's line."""
    return [number for number, line in enumerate(text.splitlines(), 1) if _RULE_HEADER.match(line)]


def parse_plan(
    text: str, *, source: str = "<inline>", other_sections: Collection[str] = ()
) -> FaultPlan:
    """Parse plan TOML text; errors name `source`."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PlanError(f"{source}: invalid TOML: {error}") from None
    return plan_from_mapping(
        document, source=source, other_sections=other_sections, rule_lines=rule_lines(text)
    )


def plan_from_mapping(
    document: Mapping[str, Any],
    *,
    source: str = "<inline>",
    other_sections: Collection[str] = (),
    rule_lines: Sequence[int] = (),
) -> FaultPlan:
    """Validate a plan given as plain data (the same shape as the TOML)."""
    where = _Where(source)
    _reject_unknown(document, _PLAN_KEYS | set(other_sections), where, "top level")
    name = _optional_str(document, "name", where) or Path(source).stem or "plan"
    description = _optional_str(document, "description", where) or ""
    seed = document.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise where.error("seed", f"must be an integer, got {seed!r}")
    raw_rules = document.get("rule", [])
    if not isinstance(raw_rules, list):
        raise where.error("rule", "must be an array of tables ([[rule]] sections)")
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules):
        line = rule_lines[index] if index < len(rule_lines) else None
        rules.append(_rule(index, raw, where.rule(index, line)))
    return FaultPlan(
        rules=tuple(rules),
        name=name,
        description=description,
        seed=seed,
        source=source,
        capabilities=_capabilities(document.get("capabilities"), where),
    )


def _capabilities(value: Any, where: _Where) -> frozenset[Capability]:
    """`[capabilities]`: extensions switched on or off (true/false) against the defaults."""
    if value is None:
        return DEFAULT_CAPABILITIES
    if not isinstance(value, Mapping):
        raise where.error("capabilities", f"must be a table of true/false, got {value!r}")
    chosen = set(DEFAULT_CAPABILITIES)
    known = {capability.value: capability for capability in Capability}
    for name, switch in value.items():
        key = str(name).lower()
        if key not in known:
            raise where.error(
                f"capabilities.{name}", f"unknown extension (known: {', '.join(known)})"
            )
        if not isinstance(switch, bool):
            raise where.error(f"capabilities.{name}", f"must be true or false, got {switch!r}")
        (chosen.add if switch else chosen.discard)(known[key])
    return frozenset(chosen)


class _Where:
    """Where a value sits in the plan, so every error can point at it."""

    def __init__(self, source: str, rule_label: str = "") -> None:
        self.source = source
        self.rule_label = rule_label

    def rule(self, index: int, line: int | None) -> _Where:
        at_line = f" (line {line})" if line else ""
        return _Where(self.source, f"rule {index + 1}{at_line}")

    def error(self, key: str, problem: str) -> PlanError:
        inside = f"{self.rule_label}, " if self.rule_label else ""
        return PlanError(f"{self.source}: {inside}key '{key}': {problem}")


def _reject_unknown(
    table: Mapping[str, Any], allowed: Collection[str], where: _Where, label: str
) -> None:
    for key in table:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise where.error(key, f"unknown key at {label} (known keys: {known})")


def _optional_str(table: Mapping[str, Any], key: str, where: _Where) -> str | None:
    value = table.get(key)
    if value is None or isinstance(value, str):
        return value
    raise where.error(key, f"must be a string, got {value!r}")


def _rule(index: int, raw: Any, where: _Where) -> Rule:
    if not isinstance(raw, Mapping):
        raise where.error("rule", f"must be a table, got {raw!r}")
    _reject_unknown(raw, _RULE_KEYS, where, "a rule")
    name = _optional_str(raw, "name", where) or f"rule {index + 1}"
    match = _match(raw, where)
    action = _action(raw, match.stages, where)
    min_fired = _optional_count(raw, "min_fired", where)
    return Rule(
        index=index,
        name=name,
        match=match,
        action=action,
        min_fired=1 if min_fired is None else min_fired,
    )


def _match(raw: Mapping[str, Any], where: _Where) -> Match:
    stages = _stages(raw, where)
    patterns = {key: _patterns(raw.get(key), key, where) for key in _PATTERN_KEYS}
    _require_stages(raw, stages, where, ("sender", "message_attempt"), STAGES_WITH_SENDER)
    _require_stages(
        raw,
        stages,
        where,
        ("recipient", "recipient_domain", "pair_attempt", "greylist"),
        STAGES_WITH_RECIPIENTS,
    )
    after = _optional_duration(raw, "after", where)
    before = _optional_duration(raw, "before", where)
    if after is not None and before is not None and after >= before:
        raise where.error("before", f"must be later than 'after' ({after}s >= {before}s)")
    return Match(
        stages=stages,
        listener=patterns["listener"],
        client=patterns["client"],
        helo=patterns["helo"],
        sender=patterns["sender"],
        recipient=patterns["recipient"],
        recipient_domain=patterns["recipient_domain"],
        message_attempt=_attempts(raw.get("message_attempt"), "message_attempt", where),
        pair_attempt=_attempts(raw.get("pair_attempt"), "pair_attempt", where),
        after=after,
        before=before,
        sessions_above=_optional_count(raw, "sessions_above", where),
        client_sessions_above=_optional_count(raw, "client_sessions_above", where),
        greylist=_optional_duration(raw, "greylist", where),
        probability=_probability(raw.get("probability"), where),
    )


def _stages(raw: Mapping[str, Any], where: _Where) -> frozenset[Stage]:
    value = raw.get("stage")
    if value is None:
        raise where.error("stage", "is required: say at which SMTP stage the rule applies")
    names = value if isinstance(value, list) else [value]
    known = ", ".join(STAGE_ALIASES)
    stages: set[Stage] = set()
    for name in names:
        if not isinstance(name, str) or name.lower() not in STAGE_ALIASES:
            raise where.error("stage", f"unknown stage {name!r} (known: {known})")
        stages.add(STAGE_ALIASES[name.lower()])
    if not stages:
        raise where.error("stage", "must name at least one stage")
    return frozenset(stages)


def _require_stages(
    raw: Mapping[str, Any],
    stages: frozenset[Stage],
    where: _Where,
    keys: Sequence[str],
    allowed: frozenset[Stage],
) -> None:
    for key in keys:
        if key in raw and not stages <= allowed:
            early = ", ".join(sorted(stage.value for stage in stages - allowed))
            raise where.error(key, f"is not known yet at stage {early}")


def _patterns(value: Any, key: str, where: _Where) -> tuple[Pattern, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    patterns: list[Pattern] = []
    for item in items:
        if isinstance(item, str):
            patterns.append(Pattern(item))
        elif (
            isinstance(item, Mapping) and set(item) == {"regex"} and isinstance(item["regex"], str)
        ):
            try:
                patterns.append(Pattern(item["regex"], is_regex=True))
            except re.error as error:
                raise where.error(key, f"invalid regex {item['regex']!r}: {error}") from None
        else:
            raise where.error(
                key, f'must be a glob string, {{regex = "..."}} or a list of them, got {item!r}'
            )
    return tuple(patterns)


def _attempts(value: Any, key: str, where: _Where) -> AttemptRange | None:
    if value is None:
        return None
    low: Any
    high: Any
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = value, value
    elif isinstance(value, str) and (found := _RANGE.match(value)):
        low = int(found.group(1)) if found.group(1) else 1
        high = int(found.group(2)) if found.group(2) else None
    elif isinstance(value, Mapping) and set(value) <= {"min", "max"}:
        low, high = value.get("min", 1), value.get("max")
    else:
        raise where.error(key, f'must be N, "A-B", "A-" or {{min, max}}, got {value!r}')
    if not isinstance(low, int) or low < 1 or (high is not None and not isinstance(high, int)):
        raise where.error(key, f"attempts count from 1, got {value!r}")
    if high is not None and high < low:
        raise where.error(key, f"empty range {value!r}")
    return AttemptRange(low, high)


def _optional_duration(raw: Mapping[str, Any], key: str, where: _Where) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise where.error(key, str(error)) from None


def _optional_count(raw: Mapping[str, Any], key: str, where: _Where) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise where.error(key, f"must be a whole number >= 0, got {value!r}")
    return value


def _probability(value: Any, where: _Where) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise where.error("probability", f"must be a number from 0 to 1, got {value!r}")
    return float(value)


def _action(raw: Mapping[str, Any], stages: frozenset[Stage], where: _Where) -> Action:
    stall_value = raw.get("stall")
    stall = 0.0
    if stall_value == "forever":
        stall = math.inf
    elif stall_value is not None:
        try:
            stall = parse_duration(stall_value)
        except ValueError as error:
            raise where.error("stall", f'{error}, or "forever"') from None
    chosen = [key for key in ("reply", "drop", "accept") if key in raw]
    if len(chosen) > 1:
        raise where.error(chosen[1], f"a rule has one outcome; it already has '{chosen[0]}'")
    if not chosen and stall_value is None:
        raise where.error("reply", "a rule needs an action: reply, drop, accept or stall")
    if "drop_after_bytes" in raw and raw.get("drop") != DropMode.MID_DATA.value:
        raise where.error("drop_after_bytes", 'only goes with drop = "mid-data"')
    outcome: Outcome = Accept()
    if "reply" in raw:
        outcome = _reply(raw["reply"], where)
    elif "drop" in raw:
        outcome = _drop(raw, stages, where)
    elif "accept" in raw and raw["accept"] is not True:
        raise where.error("accept", "can only be true (leave it out to not accept)")
    return Action(outcome=outcome, stall=stall, keep_message=_keep_message(raw, stages, where))


def _keep_message(raw: Mapping[str, Any], stages: frozenset[Stage], where: _Where) -> bool:
    """`keep_message`: store the message before the stall and the outcome (stage eod only)."""
    keep = raw.get("keep_message", False)
    if not isinstance(keep, bool):
        raise where.error("keep_message", f"must be true or false, got {keep!r}")
    if keep and stages != {Stage.EOD}:
        raise where.error("keep_message", 'only applies at stage "eod"')
    return keep


def _reply(value: Any, where: _Where) -> Reply:
    close: Any = None
    code: Any
    if isinstance(value, str):
        found = _REPLY_TEXT.match(value.strip())
        if not found:
            raise where.error("reply", f"must start with a 3-digit code, got {value!r}")
        code = int(found.group("code"))
        rest = (found.group("rest") or "").strip()
        first, _, remainder = rest.partition(" ")
        enhanced = first if _ENHANCED.match(first) else None
        text: Any = remainder if enhanced else rest
    elif isinstance(value, Mapping):
        _reject_unknown(value, _REPLY_KEYS, where, "reply")
        code = value.get("code")
        enhanced = value.get("enhanced")
        text = value.get("text", "")
        close = value.get("close")
        if not isinstance(code, int) or isinstance(code, bool):
            raise where.error("reply.code", f"must be a 3-digit number, got {code!r}")
        if enhanced is not None and (
            not isinstance(enhanced, str) or not _ENHANCED.match(enhanced)
        ):
            raise where.error("reply.enhanced", f"must look like 4.2.0, got {enhanced!r}")
        if close is not None and not isinstance(close, bool):
            raise where.error("reply.close", f"must be true or false, got {close!r}")
    else:
        raise where.error("reply", f"must be a string or a table, got {value!r}")
    if not 200 <= code <= 599:
        raise where.error("reply", f"code must be from 200 to 599, got {code}")
    lines = _reply_lines(text, where)
    return Reply(
        code=code, enhanced=enhanced, lines=lines, close=code == 421 if close is None else close
    )


def _reply_lines(text: Any, where: _Where) -> tuple[str, ...]:
    lines = text if isinstance(text, list) else [text]
    for line in lines:
        if not isinstance(line, str):
            raise where.error("reply.text", f"must be a string or a list of strings, got {line!r}")
        if "\r" in line or "\n" in line:
            raise where.error("reply.text", "a line may not contain CR or LF; use a list")
        try:
            line.format_map(_TEMPLATE_FIELDS)
        except (KeyError, ValueError, IndexError) as error:
            fields = ", ".join("{" + field + "}" for field in _TEMPLATE_FIELDS)
            raise where.error(
                "reply.text", f"bad placeholder in {line!r} ({error}); known: {fields}"
            ) from None
    return tuple(lines)


def _drop(raw: Mapping[str, Any], stages: frozenset[Stage], where: _Where) -> Drop:
    value = raw["drop"]
    modes = {mode.value: mode for mode in DropMode}
    if value not in modes:
        raise where.error("drop", f"must be one of {', '.join(modes)}, got {value!r}")
    mode = modes[value]
    if mode is DropMode.MID_DATA and not stages <= {Stage.DATA, Stage.BDAT}:
        raise where.error("drop", '"mid-data" only applies at stage "data" or "bdat"')
    if mode is DropMode.AFTER_DOT and stages != {Stage.EOD}:
        raise where.error("drop", '"after-dot" only applies at stage "eod"')
    after_bytes = raw.get("drop_after_bytes", 0)
    if not isinstance(after_bytes, int) or isinstance(after_bytes, bool) or after_bytes < 0:
        raise where.error("drop_after_bytes", f"must be a whole number >= 0, got {after_bytes!r}")
    return Drop(mode=mode, after_bytes=after_bytes)
