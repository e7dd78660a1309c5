"""The Debian base image every target builds FROM, with or without a registry, per suite.

A target builds on one Debian suite: `DEFAULT_SUITE` unless it asks for another
(`postfix@bookworm`, `exim@forky`: `SUITES`). `ensure_base_image(suite=...)` prefers the
official `debian:<suite>-slim` (already present, or pulled with a short timeout). Where no
registry answers, it bootstraps an equivalent base from the Debian mirror this machine's apt
uses (`debootstrap --variant=minbase`, with the `sid` script for a suite the host's debootstrap
does not know yet, as Debian's own debootstrap does for testing) and `docker import`s it,
tagged by a hash of everything that went into it, so it is built once per recipe and engine:
the next call finds the tag and builds nothing. A file lock makes concurrent callers (xdist
workers, parallel runs) wait for one build instead of starting their own.

Inside the image apt works as in the official one: /etc/apt/sources.list names the mirror (and
the security mirror when the host has one), and the apt lists are left empty for target builds
to `apt-get update`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import docker
import docker.errors
import requests

from harness.containers.cache import cache_dir, exclusive_lock
from harness.containers.engine import docker_client
from harness.containers.host_apt import debian_mirrors
from harness.containers.labels import ImageKind, image_labels
from harness.errors import ImageBuildError, ToolMissingError

logger = logging.getLogger(__name__)

BASE_REPOSITORY = "mailstorm/base"
#: The suites a target can build on: oldstable, stable, testing (December 2026).
SUITES = ("bookworm", "trixie", "forky")
#: What a target builds on unless it names another suite: today's stable. The others are version
#: columns (`exim@bookworm`, `postfix@forky`), listed in each target's `other_suites`.
DEFAULT_SUITE = "trixie"
#: Suites with an -updates pocket and security support on the mirror; testing has neither in
#: the sense a stable release does (forky-security exists but is empty until the release).
STABLE_SUITES = frozenset({"bookworm", "trixie"})
VARIANT = "minbase"
#: Testing's Release file carries a Valid-Until a week ahead (stable's does not), and a mirror
#: that is a snapshot serves it past that date: apt then refuses the whole suite ("Release file
#: ... is expired"). A base of a testing suite accepts its mirror's snapshot as it is, which is
#: what the image is for: the packages of that snapshot, named by version in every result.
SNAPSHOT_APT_CONF = 'Acquire::Check-Valid-Until "false";\n'
#: Seconds of silence after which a pull is given up (no registry usually fails much faster).
PULL_TIMEOUT = 20
#: Upper bound for debootstrap; a minbase bootstrap from a near mirror takes one to three minutes.
DEBOOTSTRAP_TIMEOUT = 30 * 60
#: Bump when the recipe changes (commands, files written into the image): it changes the tag.
RECIPE_VERSION = 1


@dataclass(frozen=True)
class BaseRecipe:
    """Everything a bootstrapped base depends on; its hash names the image."""

    suite: str
    variant: str
    architecture: str
    mirror: str
    sources_list: str
    #: /etc/apt/apt.conf.d/99mailstorm, or empty for none
    apt_conf: str = ""
    recipe_version: int = RECIPE_VERSION

    @property
    def digest(self) -> str:
        fields = asdict(self)
        if not self.apt_conf:  # added later: without one, the tags built before stay valid
            del fields["apt_conf"]
        canonical = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"{BASE_REPOSITORY}:{self.suite}-{self.digest}"


def upstream_image(suite: str) -> str:
    """The official image a bootstrapped base of `suite` stands in for."""
    return f"debian:{suite}-slim"


def check_suite(suite: str) -> str:
    """`suite` if the harness builds on it, else an ImageBuildError naming the ones it does."""
    if suite not in SUITES:
        raise ImageBuildError(f"unknown Debian suite {suite!r} (known: {', '.join(SUITES)})")
    return suite


def host_recipe(suite: str = DEFAULT_SUITE) -> BaseRecipe:
    """The recipe of a `suite` base for this machine: its Debian mirrors and architecture."""
    check_suite(suite)
    mirrors = debian_mirrors()
    lines = [f"deb {mirrors.archive} {suite} main"]
    if suite in STABLE_SUITES:
        lines.append(f"deb {mirrors.archive} {suite}-updates main")
        if mirrors.security:
            lines.append(f"deb {mirrors.security} {suite}-security main")
    return BaseRecipe(
        suite=suite,
        variant=VARIANT,
        architecture=_dpkg_architecture(),
        mirror=mirrors.archive,
        sources_list="\n".join(lines) + "\n",
        apt_conf="" if suite in STABLE_SUITES else SNAPSHOT_APT_CONF,
    )


def ensure_base_image(
    client: docker.DockerClient | None = None, *, suite: str = DEFAULT_SUITE
) -> str:
    """The tag of a Debian `suite` base image present in the engine, building it if need be.

    Order: a local `debian:<suite>-slim`; a local bootstrapped base of this machine's recipe;
    a pull of `debian:<suite>-slim` (skipped when MAILSTORM_BASE_PULL=0); a bootstrap.
    """
    client = client or docker_client()
    upstream = upstream_image(check_suite(suite))
    if _has_image(client, upstream):
        return upstream
    recipe = host_recipe(suite) if Path("/etc/apt").is_dir() else None
    if recipe is not None and _has_image(client, recipe.tag):
        return recipe.tag
    pull = os.environ.get("MAILSTORM_BASE_PULL") != "0"
    pull_error = _try_pull(client, upstream) if pull else "disabled"
    if pull_error is None:
        return upstream
    if recipe is None:
        raise ImageBuildError(
            f"cannot get {upstream} (pull: {pull_error}) and this machine has no apt "
            f"to bootstrap one: load it into the engine (docker load) or make a registry reachable"
        )
    logger.info("pull of %s failed (%s); bootstrapping %s", upstream, pull_error, recipe.tag)
    bootstrap_base_image(client, recipe)
    return recipe.tag


def bootstrap_base_image(client: docker.DockerClient, recipe: BaseRecipe) -> None:
    """Build `recipe.tag` with debootstrap + import, unless it exists once we hold the lock."""
    with exclusive_lock(f"base-{recipe.digest}"):
        if _has_image(client, recipe.tag):
            return
        upstream = upstream_image(recipe.suite)
        debootstrap = _ensure_debootstrap(upstream)
        if os.geteuid() != 0:
            raise ImageBuildError(
                f"no {upstream} (no registry) and debootstrap needs root to build an "
                f"equivalent: run once as root, or load {upstream} into the engine"
            )
        # Leftovers of a build killed half-way are ours to remove: we hold the lock.
        workdir = cache_dir() / f"base-build-{recipe.digest}"
        log_path = cache_dir() / f"base-build-{recipe.digest}.log"
        shutil.rmtree(workdir, ignore_errors=True)
        rootfs, tarball = workdir / "rootfs", workdir / "rootfs.tar"
        workdir.mkdir(parents=True)
        started = time.monotonic()
        try:
            with log_path.open("w") as log:
                _run(
                    [debootstrap, f"--variant={recipe.variant}", f"--arch={recipe.architecture}",
                     recipe.suite, str(rootfs), recipe.mirror,
                     *_debootstrap_script(debootstrap, recipe.suite)],
                    log, log_path, DEBOOTSTRAP_TIMEOUT,
                )  # fmt: skip
                _finish_rootfs(rootfs, recipe)
                _run(
                    ["tar", "-C", str(rootfs), "--numeric-owner", "--xattrs", "-cf", str(tarball),
                     "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "."],
                    log, log_path, 600,
                )  # fmt: skip
            _import(client, tarball, recipe, log_path)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        logger.info("built %s in %.0f s", recipe.tag, time.monotonic() - started)


def _finish_rootfs(rootfs: Path, recipe: BaseRecipe) -> None:
    """Make the tree look like the official image: apt configured, caches and host traces gone."""
    (rootfs / "etc/apt/sources.list").write_text(recipe.sources_list)
    if recipe.apt_conf:
        (rootfs / "etc/apt/apt.conf.d/99mailstorm").write_text(recipe.apt_conf)
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"):
        for path in rootfs.glob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink()
    # debootstrap copied the host's resolver and name; the engine provides both at run time.
    for name in ("etc/resolv.conf", "etc/hostname"):
        path = rootfs / name
        if path.is_file() and not path.is_symlink():
            path.write_text("")


def _import(client: docker.DockerClient, tarball: Path, recipe: BaseRecipe, log: Path) -> None:
    repository, tag = recipe.tag.split(":", 1)
    labels = {**image_labels(ImageKind.BASE), "mailstorm.recipe": recipe.digest}
    changes = ['CMD ["bash"]', *(f"LABEL {key}={json.dumps(v)}" for key, v in labels.items())]
    try:
        answer = client.api.import_image_from_file(
            str(tarball), repository=repository, tag=tag, changes=changes
        )
    except (docker.errors.DockerException, requests.RequestException) as error:
        raise ImageBuildError(f"docker import of {recipe.tag} failed: {error}") from error
    if not _has_image(client, recipe.tag):
        raise ImageBuildError(f"docker import of {recipe.tag} did not produce it: {answer}")


def _debootstrap_script(debootstrap: str, suite: str) -> list[str]:
    """No argument when debootstrap knows `suite`; else its `sid` script (a host's debootstrap
    predates the next testing suite: bookworm's knows trixie, not forky)."""
    scripts = Path(debootstrap).resolve().parent.parent / "share/debootstrap/scripts"
    for folder in (scripts, Path("/usr/share/debootstrap/scripts")):
        if (folder / suite).exists():
            return []
        if (folder / "sid").exists():
            return [str(folder / "sid")]
    return []


def _try_pull(client: docker.DockerClient, image: str) -> str | None:
    """Pull `image`; None on success, else why it failed (one line)."""
    repository, tag = image.split(":", 1)
    saved = client.api.timeout
    client.api.timeout = PULL_TIMEOUT  # per read: a slow but live pull goes on
    try:
        client.images.pull(repository, tag=tag)
    except (docker.errors.DockerException, requests.RequestException) as error:
        return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    finally:
        client.api.timeout = saved
    return None


def _has_image(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def _ensure_debootstrap(upstream: str) -> str:
    found = shutil.which("debootstrap")
    if found:
        return found
    is_debian_root = os.geteuid() == 0 and Path("/etc/debian_version").exists()
    if not (is_debian_root and shutil.which("apt-get")):
        raise ToolMissingError(
            f"no {upstream} (no registry) and no debootstrap to build an equivalent: "
            "install debootstrap (Debian package 'debootstrap'), or load the image into the engine"
        )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"]
    if subprocess.run(install, env=environment, capture_output=True, check=False).returncode:
        update = ["apt-get", "update", "-qq"]
        subprocess.run(update, env=environment, capture_output=True, check=False)
        done = subprocess.run(install, env=environment, capture_output=True, text=True, check=False)
        if done.returncode:
            raise ToolMissingError(f"could not install debootstrap with apt-get: {done.stderr}")
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def _dpkg_architecture() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def _run(command: list[str], log: TextIO, log_path: Path, timeout: float) -> None:
    """Run a build step with its output in the build log; a failure carries the log's tail."""
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    try:
        done = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise ImageBuildError(
            f"{command[0]} took more than {timeout:.0f} s; log: {log_path}\n{_tail(log_path)}"
        ) from error
    if done.returncode:
        raise ImageBuildError(
            f"{Path(command[0]).name} failed (exit {done.returncode}); log: {log_path}\n"
            f"{_tail(log_path)}"
        )


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
