"""Target names to driver classes: the one place a new sender MTA is registered."""

from __future__ import annotations

from harness.errors import UnknownTargetError
from harness.targets.base import SenderTarget
from harness.targets.exim import EximTarget
from harness.targets.postfix import PostfixTarget

TARGETS: dict[str, type[SenderTarget]] = {
    PostfixTarget.name: PostfixTarget,
    EximTarget.name: EximTarget,
}


def target_class(name: str) -> type[SenderTarget]:
    """The driver for `name`, or a clear error listing the known targets."""
    try:
        return TARGETS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(TARGETS))
        raise UnknownTargetError(f"unknown target {name!r} (known: {known})") from None


def parse_target_list(text: str) -> list[str]:
    """`--targets postfix,exim`: names checked, order kept, duplicates dropped."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UnknownTargetError(
            f"no target named in {text!r} (known: {', '.join(sorted(TARGETS))})"
        )
    for name in names:
        target_class(name)
    return list(dict.fromkeys(names))
