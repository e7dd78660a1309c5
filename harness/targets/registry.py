"""The bundled sender targets, found from their folders: adding one is adding a folder.

A target is a subpackage of `harness.targets` holding `target.toml` and `image/` (an image
folder, `harness.containers.target_metadata`) whose `__init__` exports its driver as `DRIVER`.
Nothing lists them by hand; they are discovered once, on first use, so importing this package
imports no driver.

A bundled target builds on the default Debian suite (`DEFAULT_SUITE`); `name@suite` is the
same driver and image folder built on another suite (`postfix@bookworm`, `exim@forky`), so the
matrix can set MTA releases side by side. `all` names every bundled target plus the suites
each one's `target.toml` lists in `other_suites`.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.resources import files
from pathlib import Path

from harness.containers import (
    DEFAULT_SUITE,
    SUITES,
    TargetMetadata,
    is_image_folder,
    load_target_metadata,
)
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


#: What `--targets` takes for every bundled target and the versions side by side.
ALL_TARGETS = "all"
#: Between a target's name and the Debian suite it builds on: `postfix@bookworm`.
SUITE_SEPARATOR = "@"


def target_names() -> list[str]:
    """The bundled targets' names (each on the default suite), sorted."""
    return sorted(bundled_targets())


def all_target_names() -> list[str]:
    """Every bundled target, each followed by its `other_suites` columns."""
    names: list[str] = []
    for name, driver in bundled_targets().items():
        names.append(name)
        names.extend(f"{name}{SUITE_SEPARATOR}{suite}" for suite in driver.metadata().other_suites)
    return names


@cache
def suite_variant(name: str, suite: str) -> type[SenderTarget]:
    """Bundled target `name` built on Debian `suite`, named `name@suite` (one class per pair,
    so every use of the name gets the same driver)."""
    base = bundled_targets()[name]
    if suite == DEFAULT_SUITE:
        return base
    return type(
        f"{base.__name__}On{suite.capitalize()}",
        (base,),
        {
            "name": f"{name}{SUITE_SEPARATOR}{suite}",
            "suite": suite,
            "__doc__": f"{base.__name__} built on Debian {suite}.",
            "__module__": base.__module__,  # its folder (image, target.toml) is the base's
        },
    )


def target_class(name: str) -> type[SenderTarget]:
    """The driver for `name` (`postfix`, `postfix@bookworm`, a user target), or a clear error
    listing the known targets."""
    key = name.lower()
    if key in _USER_TARGETS:
        return _USER_TARGETS[key]
    base, separator, suite = key.partition(SUITE_SEPARATOR)
    driver = bundled_targets().get(base)
    if driver is None:
        known = ", ".join([*target_names(), *user_target_names()])
        raise UnknownTargetError(f"unknown target {name!r} (known: {known})") from None
    if not separator:
        return driver
    if suite not in SUITES:
        raise UnknownTargetError(
            f"unknown Debian suite in {name!r}: a target builds on {', '.join(SUITES)} "
            f"({base}@trixie, ...)"
        )
    return suite_variant(base, suite)


def target_metadata(name: str) -> TargetMetadata:
    """The `target.toml` of bundled target `name` (its folder is the driver's package)."""
    return target_class(name).metadata()


def parse_target_list(text: str) -> list[str]:
    """`--targets postfix,exim@forky` (or `all`): names checked and made canonical
    (`postfix@trixie` is `postfix` while trixie is the default), order kept, duplicates dropped."""
    names: list[str] = []
    for part in (part.strip().lower() for part in text.split(",")):
        if part == ALL_TARGETS:
            names.extend(all_target_names())
        elif part:
            names.append(target_class(part).name)
    if not names:
        raise UnknownTargetError(
            f"no target named in {text!r} (known: {', '.join(target_names())}, or all)"
        )
    return list(dict.fromkeys(names))
