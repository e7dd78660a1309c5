"""The reopening herd: how much mail arrives when a receiver reopens after an outage.

The model (`predict`) is pure arithmetic over sender classes (`SenderClass`: measured by
`mailstorm schedule`, documented, or stated in a TOML file); `write_herd_reports` turns its
`HerdPrediction` into herd-model.json/.md/.png/.svg.
"""

from harness.errors import HerdError
from harness.herd.model.loaders import (
    DEFAULT_SENDERS,
    apply_mix,
    load_schedule_json,
    load_senders_toml,
    parse_mix,
)
from harness.herd.model.prediction import (
    ArrivalPoint,
    HerdPrediction,
    HerdScenario,
    OutagePoint,
    StepPoint,
    predict,
)
from harness.herd.model.report import summary_lines, write_herd_reports
from harness.herd.model.sender_classes import (
    BUILTIN_CLASSES,
    Backoff,
    SenderClass,
    exim_default,
    postfix_default,
)

__all__ = [
    "BUILTIN_CLASSES",
    "DEFAULT_SENDERS",
    "ArrivalPoint",
    "Backoff",
    "HerdError",
    "HerdPrediction",
    "HerdScenario",
    "OutagePoint",
    "SenderClass",
    "StepPoint",
    "apply_mix",
    "exim_default",
    "load_schedule_json",
    "load_senders_toml",
    "parse_mix",
    "postfix_default",
    "predict",
    "summary_lines",
    "write_herd_reports",
]
