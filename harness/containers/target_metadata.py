"""The target directories (`targets/<name>/`) and the metadata in their `target.toml`.

A target is a sender MTA the harness can run: its directory holds the Dockerfile its image is
built from and `target.toml`, which says which Debian package it is and how to read its version
inside the image. Drivers and config templates live beside them (added per MTA).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import TargetMetadataError, UnknownTargetError

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class TargetMetadata:
    """What `target.toml` says about one target."""

    name: str
    description: str
    package: str
    version_command: tuple[str, ...]
    version_pattern: str
    directory: Path

    def parse_version(self, output: str) -> str | None:
        """The version in the output of `version_command`, or None if the pattern misses."""
        match = re.search(self.version_pattern, output, re.MULTILINE)
        return match.group(1) if match else None


def targets_root() -> Path:
    """The directory of target directories: MAILSTORM_TARGETS_DIR, else the checkout's targets/."""
    configured = os.environ.get("MAILSTORM_TARGETS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "targets"


def known_targets(root: Path | None = None) -> list[str]:
    """Names of the targets that have a Dockerfile, sorted."""
    root = root or targets_root()
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if _NAME.fullmatch(entry.name) and (entry / "Dockerfile").is_file()
    )


def target_dir(name: str, root: Path | None = None) -> Path:
    """The directory of target `name`; UnknownTargetError (listing the known ones) if none."""
    root = root or targets_root()
    known = known_targets(root)
    if name not in known:
        listing = ", ".join(known) if known else f"none: {root} has no <name>/Dockerfile"
        raise UnknownTargetError(f"unknown target {name!r}; known targets: {listing}")
    return root / name


def load_target_metadata(name: str, root: Path | None = None) -> TargetMetadata:
    """Read and check `targets/<name>/target.toml`."""
    directory = target_dir(name, root)
    path = directory / "target.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TargetMetadataError(f"{path}: {error}") from error

    def text(key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise TargetMetadataError(f"{path}: '{key}' must be a non-empty string")
        return value

    command = data.get("version_command")
    if not (isinstance(command, list) and command and all(isinstance(w, str) for w in command)):
        raise TargetMetadataError(f"{path}: 'version_command' must be a list of strings")
    if text("name") != name:
        raise TargetMetadataError(f"{path}: 'name' is {data['name']!r}, the directory is {name!r}")
    pattern = text("version_pattern")
    try:
        re.compile(pattern)
    except re.error as error:
        raise TargetMetadataError(f"{path}: 'version_pattern' is no regex: {error}") from error
    return TargetMetadata(
        name=name,
        description=str(data.get("description", "")),
        package=text("package"),
        version_command=tuple(command),
        version_pattern=pattern,
        directory=directory,
    )
