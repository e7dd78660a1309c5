"""Sender MTAs in containers: one driver module per MTA on a shared base.

Images and config templates live in the repository's `targets/<name>/`; the drivers here start
them, route test domains to the receiver, scale their clocks, inject messages, and read their
queues and logs.
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
from harness.targets.records import LogRecord, QueuedMessage, QueuedRecipient
from harness.targets.registry import TARGETS, parse_target_list, target_class
from harness.targets.routes import Hop, RouteError, RouteTable
from harness.targets.time_scaling import TimeScaling, scale_whole_seconds

__all__ = [
    "BOUNCE_DOMAIN",
    "SENDER_HOSTNAME",
    "TARGETS",
    "CommandSucceeds",
    "CompressionArtifactError",
    "Hop",
    "LogRecord",
    "QueuedMessage",
    "QueuedRecipient",
    "RouteError",
    "RouteTable",
    "ScaledParameter",
    "SenderTarget",
    "Submission",
    "TargetError",
    "TargetStartError",
    "TimeScaling",
    "build_message",
    "parse_target_list",
    "scale_whole_seconds",
    "target_class",
]
