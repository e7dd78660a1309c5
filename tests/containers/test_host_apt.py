"""Reading the host's Debian mirror from both apt source formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.containers.host_apt import debian_mirrors
from harness.errors import MailstormError

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no
"""


def apt_root(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_deb822_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILSTORM_DEBIAN_MIRROR", raising=False)
    root = apt_root(tmp_path, {"sources.list.d/debian.sources": DEB822})
    mirrors = debian_mirrors(root)
    assert mirrors.archive == "http://mirror.example/debian"
    assert mirrors.security == "http://mirror.example/debian-security"


def test_one_line_sources_skip_third_party_repositories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILSTORM_DEBIAN_MIRROR", raising=False)
    text = (
        "deb https://packages.example/apt cloud-sdk-bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://ftp.example/debian bookworm main # near\n"
    )
    root = apt_root(tmp_path, {"sources.list": text, "sources.list.d/off.list.disabled": text})
    mirrors = debian_mirrors(root)
    assert mirrors.archive == "http://ftp.example/debian"
    assert mirrors.security is None


def test_no_mirror_says_how_to_name_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILSTORM_DEBIAN_MIRROR", raising=False)
    with pytest.raises(MailstormError, match="MAILSTORM_DEBIAN_MIRROR"):
        debian_mirrors(apt_root(tmp_path, {}))
    monkeypatch.setenv("MAILSTORM_DEBIAN_MIRROR", "http://local.example/debian")
    assert debian_mirrors(tmp_path).archive == "http://local.example/debian"
