"""mailstorm: what real sender MTAs do when a receiver fails, measured.

The public API is re-exported here; everything else is internal and may change.
"""

from harness.durations import format_duration, parse_duration
from harness.errors import (
    DockerUnavailableError,
    HerdError,
    ImageBuildError,
    JournalError,
    ListenError,
    MailstormError,
    PlanError,
    ReceiverError,
    TargetMetadataError,
    ToolMissingError,
    UnknownTargetError,
)
from harness.message_ids import new_message_id, sender_address
from harness.receiver import (
    ACCEPT_ALL,
    BoundListener,
    EventRecord,
    FaultPlan,
    Journal,
    ListenSpec,
    MessageRecord,
    Receiver,
    SessionRecord,
    Stage,
    load_plan,
    parse_plan,
    plan_from_mapping,
)

__version__ = "0.1.0"

__all__ = [
    "ACCEPT_ALL",
    "BoundListener",
    "DockerUnavailableError",
    "EventRecord",
    "FaultPlan",
    "HerdError",
    "ImageBuildError",
    "Journal",
    "JournalError",
    "ListenError",
    "ListenSpec",
    "MailstormError",
    "MessageRecord",
    "PlanError",
    "Receiver",
    "ReceiverError",
    "SessionRecord",
    "Stage",
    "TargetMetadataError",
    "ToolMissingError",
    "UnknownTargetError",
    "__version__",
    "format_duration",
    "load_plan",
    "new_message_id",
    "parse_duration",
    "parse_plan",
    "plan_from_mapping",
    "sender_address",
]
