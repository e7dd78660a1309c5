"""The bundled sender targets, found from their folders: adding one is adding a folder.

A target is a subpackage of `harness.targets` holding `target.toml` and `image/` (an image
folder, `harness.containers.target_metadata`) whose `__init__` exports its driver as `DRIVER`.
Nothing lists them by hand; they are discovered once, on first use, so importing this package
imports no driver.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.resources import files
from pathlib import Path

from harness.containers import TargetMetadata, is_image_folder, load_target_metadata
from harness.errors import TargetMetadataError, UnknownTargetError
from harness.targets.base import SenderTarget


@cache
def bundled_targets() -> dict[str, type[SenderTarget]]:
    """Target name -> driver class, for every target folder in this package, sorted by name."""
    root = Path(str(files("harness.targets")))
    found: dict[str, type[SenderTarget]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and is_image_folder(p)):
        module = importlib.import_module(f"harness.targets.{folder.name}")
        driver = getattr(module, "DRIVER", None)
        if not (isinstance(driver, type) and issubclass(driver, SenderTarget)):
            raise TargetMetadataError(
                f"{folder}: its __init__ must export DRIVER, a SenderTarget subclass"
            )
        metadata = load_target_metadata(folder)
        if driver.folder() != folder:
            raise TargetMetadataError(f"{folder}: DRIVER {driver.__name__} lives in another folder")
        if driver.name != metadata.name:
            raise TargetMetadataError(
                f"{folder}: target.toml names {metadata.name!r}, the driver {driver.name!r}"
            )
        found[metadata.name] = driver
    return found


#: User targets registered in this process (harness/targets/user_target.py), by name.
_USER_TARGETS: dict[str, type[SenderTarget]] = {}


def register_user_target(driver: type[SenderTarget]) -> None:
    """Make a user target's driver known by its name, beside the bundled ones."""
    if driver.name in bundled_targets():
        raise TargetMetadataError(f"{driver.name!r} is a bundled target's name")
    _USER_TARGETS[driver.name] = driver


def user_target_names() -> list[str]:
    """The user targets registered in this process, in registration order."""
    return list(_USER_TARGETS)


def target_names() -> list[str]:
    """The bundled targets' names, sorted."""
    return sorted(bundled_targets())


def target_class(name: str) -> type[SenderTarget]:
    """The driver for `name`, or a clear error listing the known targets."""
    key = name.lower()
    if key in _USER_TARGETS:
        return _USER_TARGETS[key]
    try:
        return bundled_targets()[key]
    except KeyError:
        known = ", ".join([*target_names(), *user_target_names()])
        raise UnknownTargetError(f"unknown target {name!r} (known: {known})") from None


def target_metadata(name: str) -> TargetMetadata:
    """The `target.toml` of bundled target `name` (its folder is the driver's package)."""
    return target_class(name).metadata()


def parse_target_list(text: str) -> list[str]:
    """`--targets postfix,exim`: names checked, order kept, duplicates dropped."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UnknownTargetError(
            f"no target named in {text!r} (known: {', '.join(target_names())})"
        )
    for name in names:
        target_class(name)
    return list(dict.fromkeys(names))
