"""Sender MTAs in containers: one folder per MTA on a shared base.

Each MTA is a subpackage (`postfix/`, `exim/`): its driver, its `target.toml` and its image's
build files together, found by `registry` from the folder alone. The drivers start the images,
route test domains to the receiver, scale their clocks, inject messages, and read their queues
and logs. Adding an MTA is copying one folder.
"""

from harness.results import ScaledParameter
from harness.targets.base import (
    BOUNCE_DOMAIN,
    SENDER_HOSTNAME,
    CompressionArtifactError,
    SenderTarget,
    Submission,
    TargetError,
    build_message,
)
from harness.targets.readiness import CommandSucceeds, TargetStartError
from harness.targets.records import (
    DECISION_FIELD,
    HELD_FIELD,
    REFUSED_FIELD,
    LogRecord,
    QueuedMessage,
    QueuedRecipient,
    queue_ids_of,
)
from harness.targets.registry import (
    ALL_TARGETS,
    all_target_names,
    bundled_targets,
    parse_target_list,
    target_class,
    target_metadata,
    target_names,
    user_target_names,
)
from harness.targets.routes import Hop, Resolver, RouteError, RouteTable
from harness.targets.time_scaling import TimeScaling, scale_whole_seconds
from harness.targets.user_target import (
    UserTarget,
    chosen_targets,
    load_user_target,
    read_user_target,
)

__all__ = [
    "ALL_TARGETS",
    "BOUNCE_DOMAIN",
    "DECISION_FIELD",
    "HELD_FIELD",
    "REFUSED_FIELD",
    "SENDER_HOSTNAME",
    "CommandSucceeds",
    "CompressionArtifactError",
    "Hop",
    "LogRecord",
    "QueuedMessage",
    "QueuedRecipient",
    "Resolver",
    "RouteError",
    "RouteTable",
    "ScaledParameter",
    "SenderTarget",
    "Submission",
    "TargetError",
    "TargetStartError",
    "TimeScaling",
    "UserTarget",
    "all_target_names",
    "build_message",
    "bundled_targets",
    "chosen_targets",
    "load_user_target",
    "parse_target_list",
    "queue_ids_of",
    "read_user_target",
    "scale_whole_seconds",
    "target_class",
    "target_metadata",
    "target_names",
    "user_target_names",
]
