"""Finding and fetching Postfix's smtp-sink and smtp-source, with real apt-get and dpkg-deb."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from harness.bench import PostfixTools, fetch_postfix_tools
from harness.errors import ToolMissingError


def usage_of(tools: PostfixTools, program: Path) -> str:
    """What the program says when run without arguments: its usage, if it loads at all."""
    result = subprocess.run(
        [str(program)], capture_output=True, text=True, env=tools.environ(), timeout=30
    )
    return result.stderr


def test_found_tools_run(postfix_tools: PostfixTools) -> None:
    assert "usage" in usage_of(postfix_tools, postfix_tools.smtp_sink)
    assert "usage" in usage_of(postfix_tools, postfix_tools.smtp_source)
    assert postfix_tools.version


def test_fetch_unpacks_once_and_reuses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = fetch_postfix_tools(tmp_path)
    assert tools.smtp_sink.is_relative_to(tmp_path)
    assert "LD_LIBRARY_PATH" in tools.env
    assert "usage" in usage_of(tools, tools.smtp_source)
    assert tools.version[0].isdigit()

    # Without apt-get, dpkg-deb or ldd on PATH a second fetch can only succeed from the cache.
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    assert fetch_postfix_tools(tmp_path) == tools


def test_concurrent_fetches_share_one_download(tmp_path: Path) -> None:
    results: list[PostfixTools] = []
    failures: list[BaseException] = []

    def fetch() -> None:
        try:
            results.append(fetch_postfix_tools(tmp_path))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not failures
    assert len(results) == 3
    assert results[0] == results[1] == results[2]
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("fetch-")] == []


def test_without_apt_get_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    with pytest.raises(ToolMissingError, match=r"no apt-get .*apt-get install postfix"):
        fetch_postfix_tools(tmp_path / "cache")


def test_the_cache_directory_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.bench.postfix_tools import default_cache_dir

    monkeypatch.setenv("MAILSTORM_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "postfix-tools"
