"""The vocabulary of results, at the bottom of the house: every stage above imports it.

What a case found (`Fate`, `Attempt`, `Check`, `CaseResult`), a whole run (`Matrix`), a retry
schedule (`Schedule`, measured as `MeasuredSchedule`, compared as `Agreement`), and the files
they live in (`matrix.json`, `schedule.json`) with their codecs. The ledger and the checks make
these; the matrix and schedule runners collect them; `harness.report` only renders them.
"""

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
    empty_fates,
)
from harness.results.check_catalogue import CHECK_CLAUSES, CheckClause
from harness.results.matrix import SCHEMA_VERSION, Matrix, TargetInfo
from harness.results.matrix_json import (
    MATRIX_JSON,
    matrix_from_json_data,
    matrix_to_json,
    matrix_to_json_data,
    read_matrix_json,
    write_matrix_json,
)
from harness.results.mx_evidence import Connection, Lookup
from harness.results.schedule import (
    Agreement,
    MeasuredSchedule,
    Method,
    Metric,
    ScaledParameter,
    Schedule,
    ScheduleResults,
)
from harness.results.schedule_json import (
    MATRIX_VARIANT,
    SCHEDULE_JSON,
    VARIANT_PREFERENCE,
    attach_schedules,
    choose_schedule,
    read_schedule_json,
    schedule_results_to_json,
    write_schedule_json,
)
from harness.results.schedule_spread import (
    SPREAD_QUANTITIES,
    ScheduleSpread,
    Span,
    schedule_spreads,
)

__all__ = [
    "CHECK_CLAUSES",
    "MATRIX_JSON",
    "MATRIX_VARIANT",
    "SCHEDULE_JSON",
    "SCHEMA_VERSION",
    "SPREAD_QUANTITIES",
    "VARIANT_PREFERENCE",
    "Agreement",
    "Attempt",
    "CaseResult",
    "Check",
    "CheckClause",
    "Connection",
    "DsnEvidence",
    "Fate",
    "FaultExercise",
    "Level",
    "Lookup",
    "Matrix",
    "MeasuredSchedule",
    "Method",
    "Metric",
    "Outcome",
    "RecipientFate",
    "ScaledParameter",
    "Schedule",
    "ScheduleResults",
    "ScheduleSpread",
    "Span",
    "TargetInfo",
    "attach_schedules",
    "choose_schedule",
    "empty_fates",
    "matrix_from_json_data",
    "matrix_to_json",
    "matrix_to_json_data",
    "read_matrix_json",
    "read_schedule_json",
    "schedule_results_to_json",
    "schedule_spreads",
    "write_matrix_json",
    "write_schedule_json",
]
