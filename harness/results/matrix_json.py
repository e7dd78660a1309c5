"""`matrix.json`: the whole result of a run on disk, and reading it back exactly.

Every other report (Markdown, HTML, JUnit, baselines) can be regenerated from this file, so it
holds everything `Matrix` holds and reading it back gives an equal `Matrix`. The format is
described field by field in docs/matrix-json.md. A file with a `schema_version` this code does
not know is refused rather than guessed at: fields change meaning between versions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.errors import MatrixFormatError, SchemaVersionError
from harness.files import write_text_atomically
from harness.results.case import (
    Attempt,
    CaseResult,
    Check,
    DsnEvidence,
    Fate,
    FaultExercise,
    Level,
    Outcome,
    RecipientFate,
)
from harness.results.fields import Fields, choice
from harness.results.matrix import SCHEMA_VERSION, Matrix, TargetInfo
from harness.results.mx_evidence import Connection, Lookup
from harness.results.schedule import Method, ScaledParameter, Schedule
from harness.results.schedule_spread import ScheduleSpread, Span

MATRIX_JSON = "matrix.json"
#: The schema versions this code reads.
KNOWN_SCHEMA_VERSIONS = frozenset({SCHEMA_VERSION})


def matrix_to_json(matrix: Matrix) -> str:
    """`matrix` as the text of a `matrix.json` (UTF-8, indented, strict JSON).

    Raises `MatrixFormatError` when a free-form value (`Check.measured`, `TargetInfo.parameters`)
    is not a JSON value or is a non-finite number, naming the case and key: strict JSON is what
    browsers, `jq` and other languages read, and a report that cannot be read back is worse than
    a clear error at the end of a run.
    """
    data = matrix_to_json_data(matrix)
    _check_json_values(data, "")
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def matrix_to_json_data(matrix: Matrix) -> dict[str, Any]:
    """The JSON value of `matrix`: its fields, each case's verdict, and each target's schedule
    with the intervals derived from its attempts (for readers; they are not read back)."""
    data = asdict(matrix)
    for case, raw in zip(matrix.cases, data["cases"], strict=True):
        raw["verdict"] = case.verdict
        for key in ("connections", "lookups", "fates_vary", "not_applicable"):
            if not raw[key]:
                del raw[key]  # only DNS/MX cells have them: the others' records stay as they were
        for fault in raw["exercise"]:
            if not fault["held"]:
                del fault["held"]  # only a stall that held the sender has it
    for target, raw in zip(matrix.targets, data["targets"], strict=True):
        if target.schedule is not None:
            raw["schedule"] = schedule_to_json_data(target.schedule)
        raw["schedule_spread"] = (
            None if target.schedule_spread is None else spread_to_json_data(target.schedule_spread)
        )
    return data


def spread_to_json_data(spread: ScheduleSpread) -> dict[str, Any]:
    """A schedule's min-max over its runs as `matrix.json` holds it (docs/matrix-json.md)."""
    return {
        "target": spread.target,
        "version": spread.version,
        "variant": spread.variant,
        "method": spread.method.value,
        "time_scale": spread.time_scale,
        "runs": spread.runs,
        "failed_runs": spread.failed_runs,
        "spans": {name: None if span is None else asdict(span) for name, span in spread.spans},
        "time_uncertainty": spread.time_uncertainty,
        "first_retry_window": list(spread.first_retry_window)
        if spread.first_retry_window
        else None,
        "outcomes": {name: [o.value for o in outcomes] for name, outcomes in spread.outcomes},
    }


def schedule_to_json_data(schedule: Schedule) -> dict[str, Any]:
    """A target's schedule as `matrix.json` holds it (docs/matrix-json.md)."""
    return schedule_fields(schedule, interval_digits=3) | {
        "checks": [asdict(check) for check in schedule.checks],
        "distorted": [
            {
                "name": p.name,
                "default_seconds": p.default_seconds,
                "configured_seconds": p.configured_seconds,
                "effective_real_seconds": p.effective_real_seconds,
                "note": p.note,
                "early_seconds": p.early_seconds,
            }
            for p in schedule.distorted
        ],
    }


def schedule_fields(schedule: Schedule, *, interval_digits: int) -> dict[str, Any]:
    """The fields `matrix.json` and `schedule.json` share, in their order: what was measured,
    the attempts, the intervals derived from them (for readers; not read back, rounded to
    `interval_digits`), the warning, the give-up and how long it was observed."""
    return {
        "target": schedule.target,
        "version": schedule.version,
        "variant": schedule.variant,
        "method": schedule.method.value,
        "time_scale": schedule.time_scale,
        "attempts": list(schedule.attempts),
        "first_retry": schedule.first_retry,
        "intervals": [round(interval, interval_digits) for interval in schedule.intervals],
        "median_interval": schedule.median_interval,
        "longest_interval": schedule.longest_interval,
        "warning": schedule.warning,
        "give_up": schedule.give_up,
        "observed_for": schedule.observed_for,
        "time_uncertainty": schedule.time_uncertainty,
        "first_retry_window": list(schedule.first_retry_window)
        if schedule.first_retry_window
        else None,
    }


def write_matrix_json(matrix: Matrix, path: str | Path) -> Path:
    """Write `matrix` to `path` (atomically: readers never see half a file)."""
    return write_text_atomically(path, matrix_to_json(matrix))


def read_matrix_json(path: str | Path) -> Matrix:
    """Read a `matrix.json` back into the `Matrix` it was written from."""
    path = Path(path)
    return matrix_from_json_data(load_json_file(path), source=str(path))


def matrix_from_json_data(data: Any, *, source: str = "matrix data") -> Matrix:
    """Build a `Matrix` from the parsed JSON of a `matrix.json` (what `to_json_data` returned).

    The `verdict` of each case is derived from its checks, so it is not read back; every other
    field is, and a missing or mistyped one is a `MatrixFormatError` naming its path.
    """
    top = Fields(data, "", source)
    check_schema_version(top, what="matrix.json")
    return Matrix(
        run_id=top.string("run_id"),
        created=top.string("created"),
        targets=tuple(_target(raw) for raw in top.objects("targets")),
        cases=tuple(_case(raw) for raw in top.objects("cases")),
        schema_version=top.integer("schema_version"),
    )


def check_schema_version(top: Fields, *, what: str) -> None:
    """Refuse a document without a known `schema_version`, saying which versions are known."""
    known = ", ".join(str(version) for version in sorted(KNOWN_SCHEMA_VERSIONS))
    if "schema_version" not in top.data:
        raise MatrixFormatError(
            f"{top.source}: no 'schema_version': not a mailstorm {what} "
            f"(this mailstorm reads schema version {known})"
        )
    version = top.data["schema_version"]
    if isinstance(version, bool) or version not in KNOWN_SCHEMA_VERSIONS:
        raise SchemaVersionError(
            f"{top.source}: schema_version {version!r} is not one this mailstorm reads "
            f"({known}); regenerate the file with this mailstorm, or read it with the "
            "mailstorm that wrote it"
        )


def load_json_file(path: Path) -> Any:
    """The parsed JSON of `path`, or a `MatrixFormatError` saying why it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MatrixFormatError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MatrixFormatError(f"{path}: cannot read it: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MatrixFormatError(
            f"{path}: not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None


def _target(data: Fields) -> TargetInfo:
    return TargetInfo(
        name=data.string("name"),
        version=data.string("version"),
        package_version=data.string("package_version"),
        time_scales=data.numbers("time_scales"),
        parameters=tuple(dict(raw.data) for raw in data.objects("parameters", [])),
        schedule=None if data.data.get("schedule") is None else _schedule(data.object("schedule")),
        schedule_spread=None
        if data.data.get("schedule_spread") is None
        else _spread(data.object("schedule_spread")),
    )


def _spread(data: Fields) -> ScheduleSpread:
    spans = data.object("spans")
    outcomes = data.object("outcomes", {})
    return ScheduleSpread(
        target=data.string("target"),
        version=data.string("version"),
        variant=data.string("variant"),
        method=data.choice(Method, "method"),
        time_scale=data.number("time_scale"),
        runs=data.integer("runs"),
        failed_runs=data.integer("failed_runs", 0),
        spans=tuple(
            (
                name,
                None
                if spans.data[name] is None
                else Span(
                    spans.object(name).number("low"),
                    spans.object(name).number("high"),
                    spans.object(name).integer("of_runs"),
                ),
            )
            for name in spans.data
        ),
        time_uncertainty=data.optional_number("time_uncertainty"),
        first_retry_window=data.optional_pair("first_retry_window"),
        outcomes=tuple(
            (
                name,
                tuple(
                    choice(Outcome, o, f"{outcomes.where}.{name}", data.source)
                    for o in outcomes.strings(name)
                ),
            )
            for name in outcomes.data
        ),
    )


def _schedule(data: Fields) -> Schedule:
    """A target's retry schedule; its derived intervals are recomputed, not read."""
    time_scale = data.number("time_scale")
    return Schedule(
        target=data.string("target"),
        version=data.string("version"),
        variant=data.string("variant"),
        method=data.choice(Method, "method"),
        time_scale=time_scale,
        attempts=data.numbers("attempts"),
        warning=data.optional_number("warning"),
        give_up=data.optional_number("give_up"),
        observed_for=data.number("observed_for"),
        time_uncertainty=data.optional_number("time_uncertainty"),
        first_retry_window=data.optional_pair("first_retry_window"),
        checks=tuple(_check(raw) for raw in data.objects("checks", [])),
        # Only the distorted parameters are written: the exact ones add nothing to a report.
        parameters=tuple(_parameter(raw, time_scale) for raw in data.objects("distorted", [])),
    )


def _parameter(data: Fields, time_scale: float) -> ScaledParameter:
    """A distorted parameter; its effective real value is the configured one times k."""
    return ScaledParameter(
        name=data.string("name"),
        default_seconds=data.number("default_seconds"),
        configured_seconds=data.number("configured_seconds"),
        time_scale=time_scale,
        note=data.string("note", ""),
        early_seconds=data.number("early_seconds", 0.0),
    )


def _case(data: Fields) -> CaseResult:
    fates_raw = data.object("fates")
    fates = {
        choice(Fate, key, f"{fates_raw.where} (key)", data.source).value: fates_raw.integer(key)
        for key in fates_raw.data
    }
    return CaseResult(
        scenario=data.string("scenario"),
        target=data.string("target"),
        description=data.string("description"),
        time_scale=data.number("time_scale"),
        fates=fates,
        recipients=tuple(_recipient(raw) for raw in data.objects("recipients")),
        attempts=tuple(_attempt(raw) for raw in data.objects("attempts")),
        dsn=None if data.data.get("dsn") is None else _dsn(data.object("dsn")),
        checks=tuple(_check(raw) for raw in data.objects("checks")),
        journal_excerpt=data.strings("journal_excerpt", []),
        observed_for=data.number("observed_for", 0.0),
        error=data.optional_string("error"),
        exercise=tuple(_exercise(raw) for raw in data.objects("exercise", [])),
        time_uncertainty=data.optional_number("time_uncertainty"),
        connections=tuple(_connection(raw) for raw in data.objects("connections", [])),
        lookups=tuple(_lookup(raw) for raw in data.objects("lookups", [])),
        fates_vary=data.boolean("fates_vary", False),
        not_applicable=data.optional_string("not_applicable"),
    )


def _connection(data: Fields) -> Connection:
    return Connection(
        t=data.number("t"),
        host=data.string("host"),
        family=data.string("family"),
        address=data.string("address"),
        outcome=data.string("outcome", "session"),
        preference=data.optional_integer("preference"),
    )


def _lookup(data: Fields) -> Lookup:
    return Lookup(
        t=data.number("t"),
        name=data.string("name"),
        rtype=data.string("rtype"),
        rcode=data.optional_string("rcode"),
        answers=data.strings("answers", []),
        transport=data.string("transport", "udp"),
        fault=data.optional_string("fault"),
    )


def _exercise(data: Fields) -> FaultExercise:
    return FaultExercise(
        fault=data.string("fault"),
        needed=data.integer("needed"),
        fired=data.integer("fired"),
        held=data.integer("held", 0),
    )


def _recipient(data: Fields) -> RecipientFate:
    return RecipientFate(
        message_id=data.string("message_id"),
        recipient=data.string("recipient"),
        fate=data.choice(Fate, "fate"),
        deliveries=data.integer("deliveries"),
        settled_t=data.optional_number("settled_t"),
        next_attempt_t=data.optional_number("next_attempt_t"),
        injected_t=data.optional_number("injected_t"),
    )


def _attempt(data: Fields) -> Attempt:
    if "reply" not in data.data:
        data.string("reply")  # raises: the field is required, null when no reply was sent
    return Attempt(
        t=data.number("t"),
        stage=data.string("stage"),
        reply=data.optional_string("reply"),
        message_id=data.optional_string("message_id"),
        listener=data.string("listener", ""),
        duration=data.number("duration", 0.0),
    )


def _dsn(data: Fields) -> DsnEvidence:
    return DsnEvidence(
        t=data.number("t"),
        action=data.string("action"),
        status=data.string("status"),
        final_recipient=data.string("final_recipient"),
        diagnostic_code=data.optional_string("diagnostic_code"),
        remote_reply_code=data.optional_integer("remote_reply_code"),
        will_retry_until=data.optional_string("will_retry_until"),
        well_formed=data.boolean("well_formed"),
        problems=data.strings("problems", []),
    )


def _check(data: Fields) -> Check:
    return Check(
        clause=data.string("clause"),
        level=data.choice(Level, "level"),
        outcome=data.choice(Outcome, "outcome"),
        detail=data.string("detail"),
        measured=dict(data.object("measured", {}).data),
    )


def _check_json_values(value: Any, where: str) -> None:
    """Raise when `value` holds something `json` would write as non-standard or not at all."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MatrixFormatError(
                f"matrix data: {where}: {value} cannot be written as JSON "
                "(use null, or a string such as 'never')"
            )
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json_values(item, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MatrixFormatError(
                    f"matrix data: {where}: the key {key!r} is not a string; JSON keys are strings"
                )
            _check_json_values(item, f"{where}.{key}" if where else key)
        return
    raise MatrixFormatError(
        f"matrix data: {where}: a {type(value).__name__} is not a JSON value "
        "(use a string, a number, a boolean, null, a list or an object)"
    )
