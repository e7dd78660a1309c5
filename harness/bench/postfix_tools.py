"""Postfix's `smtp-sink` and `smtp-source`: found here, or unpacked from Debian's package.

The receiver benchmark compares our receiver with `smtp-sink` and drives both with
`smtp-source`, so both numbers come from the same client. Installing the `postfix` package would
make Postfix the host's MTA (a daemon on port 25, a changed /etc/aliases): far too much for two
test programs. So when they are not installed we `apt-get download` the package, which needs no
root and changes nothing, `dpkg-deb -x` it into a cache directory, and run the binaries from there
with `LD_LIBRARY_PATH` pointing at Postfix's private libraries (Debian keeps them in
/usr/lib/postfix, which the binaries' RUNPATH names, not the unpacked copy).

The cache is reused across runs and guarded by a file lock, so parallel test workers fetch once.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.containers.cache import cache_dir
from harness.errors import ToolMissingError

TOOL_NAMES = ("smtp-sink", "smtp-source")
#: How to get the tools by hand, for every error that ends the search.
INSTALL_HINT = (
    "install Postfix's test programs: on Debian or Ubuntu `apt-get install postfix` "
    "(or put smtp-sink and smtp-source on PATH); elsewhere, build them from Postfix's source "
    "(src/smtpstone)"
)
_COMMAND_TIMEOUT = 300.0  # seconds for one apt-get or dpkg-deb call; a mirror can be slow
_LOCK_TIMEOUT = 2 * _COMMAND_TIMEOUT + 60.0  # a concurrent fetch runs at most that long
_COMPLETE = ".complete"  # written last: an unpacked tree without it is a half-done fetch
#: Never unpacked beside Postfix: a second C library on LD_LIBRARY_PATH breaks every program.
_SYSTEM_PACKAGES = frozenset({"libc6"})
#: What apt-get says when its package lists are missing or stale (then `apt-get update` helps).
_LISTS_LACK_IT = re.compile(
    r"Unable to locate package|has no installation candidate|Unable to fetch|404\s+Not Found"
)


@dataclass(frozen=True)
class PostfixTools:
    """Where the two programs are and how to run them."""

    smtp_sink: Path
    smtp_source: Path
    #: Postfix's version, e.g. "3.7.11-0+deb12u1" ("unknown" when nothing says).
    version: str
    #: Where they came from: "PATH", "/usr/sbin", or the cache directory they were unpacked in.
    origin: str
    #: Variables to add to the environment of both programs (LD_LIBRARY_PATH when unpacked).
    env: Mapping[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        """This process's environment plus `env`: what to pass to subprocess calls."""
        return {**os.environ, **self.env}


def find_postfix_tools(cache_dir: str | Path | None = None) -> PostfixTools:
    """The tools on PATH, else in /usr/sbin, else unpacked from Debian's postfix package.

    Raises `ToolMissingError`, saying what to install, when none of these works.
    """
    on_path = [shutil.which(name) for name in TOOL_NAMES]
    if on_path[0] and on_path[1]:
        return PostfixTools(
            Path(on_path[0]), Path(on_path[1]), version=_installed_version(), origin="PATH"
        )
    sbin = [Path("/usr/sbin") / name for name in TOOL_NAMES]
    if all(os.access(path, os.X_OK) for path in sbin):
        return PostfixTools(sbin[0], sbin[1], version=_installed_version(), origin="/usr/sbin")
    return fetch_postfix_tools(cache_dir)


def default_cache_dir() -> Path:
    """`postfix-tools` in mailstorm's cache directory (`harness.containers.cache_dir`: the
    MAILSTORM_CACHE_DIR variable, else XDG's cache home), the same inside a checkout or not.

    Read when called, not at import, so tests and users can point it elsewhere.
    """
    return cache_dir() / "postfix-tools"


def fetch_postfix_tools(cache_dir: str | Path | None = None) -> PostfixTools:
    """The tools unpacked from Debian's postfix package in `cache_dir`, fetched on first use.

    A second call finds the unpacked tree and downloads nothing; concurrent callers (test
    workers, two benchmark runs) wait on a file lock so only one of them fetches.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = cache / "root"
    if not (root / _COMPLETE).is_file():
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ToolMissingError(
                f"cannot create the cache directory {cache} for Postfix's tools ({error}); "
                f"set MAILSTORM_CACHE to a writable directory, or {INSTALL_HINT}"
            ) from None
        with _locked(cache / ".lock"):
            if not (root / _COMPLETE).is_file():  # another process may have finished meanwhile
                _download_and_unpack(cache, root)
    return _with_libraries(cache)


def _unpacked_tools(root: Path) -> PostfixTools:
    library_dirs = [root / "usr/lib/postfix", *_extra_library_dirs(root)]
    inherited = os.environ.get("LD_LIBRARY_PATH")
    search = [str(path) for path in library_dirs]
    if inherited:
        search.append(inherited)
    return PostfixTools(
        smtp_sink=root / "usr/sbin/smtp-sink",
        smtp_source=root / "usr/sbin/smtp-source",
        version=(root / _COMPLETE).read_text().strip() or "unknown",
        origin=str(root.parent),
        env={"LD_LIBRARY_PATH": os.pathsep.join(search)},
    )


def _extra_library_dirs(root: Path) -> list[Path]:
    """Directories holding shared libraries of dependency packages unpacked beside Postfix."""
    deps = root.parent / "deps"
    if not (deps / _COMPLETE).is_file():
        return []
    return sorted({library.parent for library in deps.rglob("lib*.so*") if library.is_file()})


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`, polling so a stuck holder cannot block us forever."""
    with path.open("a") as handle:
        deadline = time.monotonic() + _LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ToolMissingError(
                        f"another process has been fetching Postfix's tools for over "
                        f"{_LOCK_TIMEOUT:.0f} s (it holds {path}); wait for it or stop it"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download_and_unpack(cache: Path, root: Path) -> None:
    for program in ("apt-get", "dpkg-deb"):
        if shutil.which(program) is None:
            raise ToolMissingError(
                f"smtp-sink and smtp-source are not installed, and this machine has no {program} "
                f"to fetch them from Debian's postfix package: {INSTALL_HINT}"
            )
    with tempfile.TemporaryDirectory(prefix="fetch-", dir=cache) as scratch:
        work = Path(scratch)
        package = _apt_download("postfix", work)
        version = _run(["dpkg-deb", "--field", str(package), "Version"]).strip()
        unpacked = work / "root"
        _run(["dpkg-deb", "-x", str(package), str(unpacked)])
        for name in TOOL_NAMES:
            if not (unpacked / "usr/sbin" / name).is_file():
                raise ToolMissingError(
                    f"Debian's package {package.name} has no usr/sbin/{name}: {INSTALL_HINT}"
                )
        (unpacked / _COMPLETE).write_text(version + "\n")
        if root.exists():  # a half-done tree from an interrupted fetch (no .complete)
            shutil.rmtree(root)
        unpacked.rename(root)


def _apt_download(package: str, into: Path) -> Path:
    """`apt-get download PACKAGE` into `into`; if the package lists lack it, update and retry."""
    command = ["apt-get", "download", "-q", package]
    result = _attempt(command, into)
    if result.returncode != 0 and _LISTS_LACK_IT.search(result.stderr):
        update = _attempt(["apt-get", "update", "-q"], into)
        if update.returncode != 0:
            raise ToolMissingError(
                f"`apt-get download {package}` failed ({_last_line(result.stderr)}) and "
                f"`apt-get update` failed too ({_last_line(update.stderr)}): {INSTALL_HINT}"
            )
        result = _attempt(command, into)
    if result.returncode != 0:
        raise ToolMissingError(
            f"`apt-get download {package}` failed: {_last_line(result.stderr)}; {INSTALL_HINT}"
        )
    found = sorted(into.glob(f"{package}_*.deb"))
    if not found:
        raise ToolMissingError(f"`apt-get download {package}` left no .deb file: {INSTALL_HINT}")
    return found[0]


def _with_libraries(cache: Path) -> PostfixTools:
    """The unpacked tools, once ldd says they find every shared library they link to.

    Debian's postfix links to libdb, ICU, libnsl, krb5 and others that a minimal system may lack.
    Those come from the package's `lib*` dependencies: when ldd reports one missing, they are
    fetched and unpacked beside Postfix (once, under the same lock) and the check is repeated.
    Only that one level: what those libraries need in turn must be installed, and the error
    names it.
    """
    tools = _unpacked_tools(cache / "root")
    if not _missing_libraries(tools):
        return tools
    with _locked(cache / ".lock"):
        if not (cache / "deps" / _COMPLETE).is_file():
            _unpack_library_dependencies(cache, cache / "deps")
    tools = _unpacked_tools(cache / "root")
    still_missing = _missing_libraries(tools)
    if still_missing:
        raise ToolMissingError(
            f"Postfix's tools in {cache} need shared libraries this machine lacks "
            f"({', '.join(sorted(still_missing))}): {INSTALL_HINT}"
        )
    return tools


def _missing_libraries(tools: PostfixTools) -> set[str]:
    if shutil.which("ldd") is None:
        return set()  # cannot tell; running the program will say
    missing: set[str] = set()
    for program in (tools.smtp_sink, tools.smtp_source):
        output = _run(["ldd", str(program)], env=tools.environ(), check=False)
        missing.update(
            found.group(1) for found in re.finditer(r"^\s*(\S+) => not found", output, re.M)
        )
    return missing


def _unpack_library_dependencies(cache: Path, deps: Path) -> None:
    depends = _run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "postfix"])
    packages = sorted(
        set(re.findall(r"^\s*\|?Depends: (lib[^\s<>]+)", depends, re.M)) - _SYSTEM_PACKAGES
    )
    with tempfile.TemporaryDirectory(prefix="fetch-deps-", dir=cache) as scratch:
        work = Path(scratch)
        unpacked = work / "deps"
        for package in packages:
            _run(["dpkg-deb", "-x", str(_apt_download(package, work)), str(unpacked)])
        unpacked.mkdir(exist_ok=True)
        (unpacked / _COMPLETE).write_text(" ".join(packages) + "\n")
        if deps.exists():
            shutil.rmtree(deps)
        unpacked.rename(deps)


def _installed_version() -> str:
    """The installed postfix package's version, or "unknown" (tools built from source)."""
    if shutil.which("dpkg-query"):
        version = _run(
            ["dpkg-query", "--showformat=${Version}", "--show", "postfix"], check=False
        ).strip()
        if version:
            return version
    if shutil.which("postconf"):
        version = _run(["postconf", "-h", "mail_version"], check=False).strip()
        if version:
            return version
    return "unknown"


def _attempt(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except subprocess.TimeoutExpired:
        raise ToolMissingError(
            f"`{' '.join(command)}` did not finish within {_COMMAND_TIMEOUT:.0f} s: {INSTALL_HINT}"
        ) from None


def _run(command: list[str], *, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    """Run a short helper program and return its output; a failure is a ToolMissingError."""
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT,
            check=False,
            env=dict(env) if env is not None else None,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        if not check:
            return ""
        raise ToolMissingError(f"`{' '.join(command)}` failed: {error}; {INSTALL_HINT}") from None
    if check and result.returncode != 0:
        raise ToolMissingError(
            f"`{' '.join(command)}` failed: {_last_line(result.stderr)}; {INSTALL_HINT}"
        )
    return result.stdout


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
