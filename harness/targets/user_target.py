"""The user's own sender: a folder laid out like a bundled target, with their configuration.

An operator's question is about *their* MTA: "my Postfix has `maximal_queue_lifetime = 1d`;
what do I lose in a 72-hour outage?". A user target is a folder with a `target.toml` naming the
bundled driver it extends and its configuration fragment:

    # target.toml
    name = "postfix-1d"            # how the matrix names the column
    extends = "postfix"            # the bundled driver (and image) it builds on; postfix@bookworm
                                   # for the same on another Debian suite
    description = "our outbound relay: one-day queue lifetime"
    config = "main.cf"             # the fragment, next to target.toml (the driver's default)

    # main.cf
    maximal_queue_lifetime = 1d
    bounce_queue_lifetime = 1d

A `Dockerfile` in the folder, when there is one, adds to the bundled image it extends (a package,
a lookup table the fragment names, a patched binary); it starts `ARG BASE_IMAGE` /
`FROM ${BASE_IMAGE}`, and the folder is its build context:

    ARG BASE_IMAGE
    FROM ${BASE_IMAGE}
    COPY smtp_header_checks /etc/postfix/smtp_header_checks

The driver applies the fragment on top of its stock configuration, and its time compression
starts from the user's values, not the MTA's defaults: a scaled run divides the user's
`maximal_queue_lifetime` by k, a clock warp runs it unchanged. The harness's own settings
(routes, logging, the scaled times) win over the fragment's where both set one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import TargetMetadataError, UnknownTargetError
from harness.targets.base import SenderTarget
from harness.targets.registry import (
    bundled_targets,
    parse_target_list,
    register_user_target,
    target_class,
    target_names,
)

TARGET_TOML = "target.toml"
DOCKERFILE = "Dockerfile"
#: A user Dockerfile's FROM line must build on the image it extends, never a registry's.
_FROM_BASE = re.compile(r"^\s*FROM\s+\$\{?BASE_IMAGE\}?(\s|$)", re.IGNORECASE | re.MULTILINE)
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_KEYS = frozenset({"name", "extends", "description", "config"})


@dataclass(frozen=True)
class UserTarget:
    """What a user target folder says, checked."""

    folder: Path
    name: str
    extends: str
    description: str
    config_file: Path
    settings: Mapping[str, str]  #: the fragment's settings, in its order
    dockerfile: Path | None = None  #: additions to the bundled image, when the folder has them


def load_user_target(folder: str | Path) -> type[SenderTarget]:
    """The driver class for the user target in `folder`, registered under its name so that
    `target_class` and `--targets` find it. Every problem is one error naming the file."""
    spec = read_user_target(folder)
    base = target_class(spec.extends)
    driver = type(
        f"User{base.__name__}",
        (base,),
        {
            "name": spec.name,
            "user_settings": dict(spec.settings),
            "user_folder": spec.folder,
            "__doc__": f"{base.__name__} with the configuration in {spec.config_file}.",
            "__module__": base.__module__,  # its folder (image, target.toml) is the base's
        },
    )
    register_user_target(driver)
    return driver


def chosen_targets(listed: str | None, folders: Sequence[str | Path]) -> list[str]:
    """The targets of a run: the bundled ones `listed` names (all of them when it is None and
    no folder is given), then the user targets of `folders`, each loaded and registered."""
    users = [load_user_target(folder).name for folder in folders]
    if listed is not None:
        return list(dict.fromkeys([*parse_target_list(listed), *users]))
    return users or target_names()


def _extensible(extends: object) -> type[SenderTarget] | None:
    """The bundled driver (on its suite) that `extends` names, or None."""
    if not isinstance(extends, str):
        return None
    try:
        driver = target_class(extends)
    except UnknownTargetError:
        return None
    return driver if driver.user_folder is None else None


def read_user_target(folder: str | Path) -> UserTarget:
    """Read and check the folder's `target.toml` and its configuration fragment."""
    root = Path(folder)
    toml = root / TARGET_TOML
    if not root.is_dir():
        raise TargetMetadataError(f"{root}: not a folder (a user target is a folder)")
    try:
        data: dict[str, Any] = tomllib.loads(toml.read_text(encoding="utf-8"))
    except OSError as error:
        raise TargetMetadataError(f"{toml}: cannot read it: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise TargetMetadataError(f"{toml}: invalid TOML: {error}") from None
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise TargetMetadataError(f"{toml}: unknown key {', '.join(unknown)} (known: {known})")
    name, extends = data.get("name"), data.get("extends")
    if not isinstance(name, str) or not _NAME.match(name):
        raise TargetMetadataError(
            f"{toml}: name must be lower-case letters, digits and dashes, got {name!r}"
        )
    bundled = bundled_targets()
    if name in bundled:
        raise TargetMetadataError(f"{toml}: name {name!r} is a bundled target's: choose another")
    driver = _extensible(extends)
    if driver is None or driver.user_config_file is None:
        extensible = ", ".join(n for n, d in bundled.items() if d.user_config_file)
        raise TargetMetadataError(
            f"{toml}: extends must name a bundled target that takes a configuration "
            f"({extensible}; NAME@SUITE for another Debian suite), got {extends!r}"
        )
    config_name = data.get("config", driver.user_config_file)
    if not isinstance(config_name, str) or not config_name:
        raise TargetMetadataError(f"{toml}: config must be a file name, got {config_name!r}")
    config = root / config_name
    try:
        text = config.read_text(encoding="utf-8")
    except OSError as error:
        raise TargetMetadataError(
            f"{config}: cannot read the configuration: {error.strerror or error}"
        ) from None
    return UserTarget(
        folder=root,
        name=name,
        extends=driver.name,
        description=str(data.get("description", "")),
        config_file=config,
        settings=driver.parse_user_config(text, source=str(config)),
        dockerfile=_checked_dockerfile(root / DOCKERFILE),
    )


def _checked_dockerfile(path: Path) -> Path | None:
    """The folder's Dockerfile, if any, once it is known to build on the extended image."""
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TargetMetadataError(f"{path}: cannot read it: {error.strerror or error}") from None
    if _FROM_BASE.search(text) is None:
        raise TargetMetadataError(
            f"{path}: must build on the image it extends: `ARG BASE_IMAGE` then "
            "`FROM ${BASE_IMAGE}` (no registry is reached)"
        )
    return path
