"""The Debian mirror this machine's apt already uses, read from /etc/apt/sources.list*.

A bootstrapped base image must fetch from a mirror this machine can reach; the one apt is
configured with is the best evidence of that, so we read it instead of hard-coding a URL.
Both the one-line format (`*.list`) and deb822 stanzas (`*.sources`) are understood.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import MailstormError

#: Suites that name the main Debian archive (as opposed to a third-party repository).
DEBIAN_SUITES = frozenset(
    {"stable", "testing", "unstable", "oldstable", "sid", "buster", "bullseye", "bookworm",
     "trixie", "forky", "duke"}
)  # fmt: skip


@dataclass(frozen=True)
class AptSource:
    """One `deb` entry: a repository URI and one suite with its components."""

    uri: str
    suite: str
    components: tuple[str, ...]


@dataclass(frozen=True)
class DebianMirrors:
    """The archive mirror (required) and the security mirror (if the host has one)."""

    archive: str
    security: str | None


def read_apt_sources(root: Path = Path("/etc/apt")) -> list[AptSource]:
    """The enabled `deb` entries of `root`/sources.list and `root`/sources.list.d, in order."""
    files: list[Path] = []
    if (root / "sources.list").is_file():
        files.append(root / "sources.list")
    parts = root / "sources.list.d"
    if parts.is_dir():
        files.extend(sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources")))
    sources: list[AptSource] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        parse = _parse_deb822 if path.suffix == ".sources" else _parse_one_line
        sources.extend(parse(text))
    return sources


def debian_mirrors(root: Path = Path("/etc/apt")) -> DebianMirrors:
    """The host's Debian mirrors; MAILSTORM_DEBIAN_MIRROR overrides the archive mirror."""
    sources = read_apt_sources(root)
    archive = os.environ.get("MAILSTORM_DEBIAN_MIRROR") or next(
        (s.uri for s in sources if s.suite in DEBIAN_SUITES and "main" in s.components), None
    )
    security = next(
        (
            s.uri
            for s in sources
            if s.suite.endswith("-security") and s.suite.split("-")[0] in DEBIAN_SUITES
        ),
        None,
    )
    if archive is None:
        raise MailstormError(
            f"no Debian archive mirror found in {root}/sources.list*: set MAILSTORM_DEBIAN_MIRROR "
            "to one (e.g. the URL of your local Debian mirror)"
        )
    return DebianMirrors(archive=archive.rstrip("/"), security=security and security.rstrip("/"))


def _parse_one_line(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        words = words[1:]
        if words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            sources.append(AptSource(words[0], words[1], tuple(words[2:])))
    return sources


def _parse_deb822(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for raw in stanza.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key:
                fields[key] += " " + raw.strip()
                continue
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        components = tuple(fields.get("components", "").split())
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                sources.append(AptSource(uri, suite, components))
    return sources
