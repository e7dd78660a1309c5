"""An image folder: `target.toml` (what the image is) beside `image/` (what it is built from).

Every MTA the harness runs lives in one folder inside the package: a sender target's folder is
also its driver's package (`harness/targets/postfix/`), the inbound Postfix of the load tests
lives beside its code (`harness/herd/run/inbound_postfix/`). The folder travels in the wheel as
package data, so `pip install mailstorm` finds its images without a checkout. `target.toml` says
which Debian package the image is about and how to read its version inside it; `image/` is the
Docker build context, and only it (with the shared build files) goes into the image's hash.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.containers.base_image import DEFAULT_SUITE, SUITES
from harness.errors import TargetMetadataError

#: What a target name may look like (it becomes an image repository name).
TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
METADATA_FILE = "target.toml"
IMAGE_DIRECTORY = "image"


@dataclass(frozen=True)
class TargetMetadata:
    """What `target.toml` says about one image folder."""

    name: str
    description: str
    package: str
    version_command: tuple[str, ...]
    version_pattern: str
    directory: Path
    #: Debian suites besides the default that `--targets all` runs it on, as `name@suite`
    #: columns (the versions side by side); any suite in SUITES can be asked for by name.
    other_suites: tuple[str, ...] = ()

    @property
    def image_directory(self) -> Path:
        """The Docker build context: the folder's `image/`."""
        return self.directory / IMAGE_DIRECTORY

    def parse_version(self, output: str) -> str | None:
        """The version in the output of `version_command`, or None if the pattern misses."""
        match = re.search(self.version_pattern, output, re.MULTILINE)
        return match.group(1) if match else None


def is_image_folder(directory: Path) -> bool:
    """Whether `directory` looks like an image folder (its `target.toml` and `image/Dockerfile`)."""
    return (directory / METADATA_FILE).is_file() and (
        directory / IMAGE_DIRECTORY / "Dockerfile"
    ).is_file()


def load_target_metadata(directory: Path) -> TargetMetadata:
    """Read and check `directory/target.toml`; TargetMetadataError names the file and the key."""
    path = directory / METADATA_FILE
    if not (directory / IMAGE_DIRECTORY / "Dockerfile").is_file():
        raise TargetMetadataError(f"{directory}: no {IMAGE_DIRECTORY}/Dockerfile to build from")
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
    name = text("name")
    if not TARGET_NAME.fullmatch(name):
        raise TargetMetadataError(
            f"{path}: 'name' {name!r} must be lower-case letters, digits, '-' or '_'"
        )
    pattern = text("version_pattern")
    try:
        re.compile(pattern)
    except re.error as error:
        raise TargetMetadataError(f"{path}: 'version_pattern' is no regex: {error}") from error
    other = data.get("other_suites", [])
    if not (isinstance(other, list) and all(isinstance(suite, str) for suite in other)):
        raise TargetMetadataError(f"{path}: 'other_suites' must be a list of suite names")
    for suite in other:
        if suite not in SUITES or suite == DEFAULT_SUITE:
            known = ", ".join(s for s in SUITES if s != DEFAULT_SUITE)
            raise TargetMetadataError(
                f"{path}: 'other_suites' names {suite!r}; a target can build on {known} "
                f"besides {DEFAULT_SUITE}"
            )
    return TargetMetadata(
        name=name,
        description=str(data.get("description", "")),
        package=text("package"),
        version_command=tuple(command),
        version_pattern=pattern,
        directory=directory,
        other_suites=tuple(other),
    )
