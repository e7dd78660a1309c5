"""Images: an image folder's `image/` built FROM the Debian base, once per input.

The build context is the folder's `image/` plus the shared build files (`build_files/`: the
clock-warp library and the package list, in one place for every image), assembled in a
temporary directory; a C source among them is also compiled there into its shared library
(`native_build.py`), and a folder's npm lock file is installed there by the host's npm
(`npm_packages.py`). The tag is `mailstorm/<name>:<hash>`, the hash covering exactly those files
and the base image (tag and id, so each Debian suite has its own): a changed Dockerfile, shared
file or rebuilt base gives a new tag, and a change to a driver or a config template (which are
not in the image) does not. Builds
of one tag are serialized by a file lock. A failed build raises ImageBuildError with the tail of
its log (also kept in the cache dir).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from harness.containers.base_image import DEFAULT_SUITE, ensure_base_image
from harness.containers.cache import cache_dir, exclusive_lock
from harness.containers.engine import docker_client
from harness.containers.labels import ImageKind, image_labels
from harness.containers.native_build import compile_shared_library, compiled_name
from harness.containers.npm_packages import install_npm_packages, needs_npm_packages
from harness.containers.target_metadata import TargetMetadata
from harness.errors import ImageBuildError

logger = logging.getLogger(__name__)

#: Lines of build output attached to an ImageBuildError.
LOG_TAIL_LINES = 30


def shared_build_files() -> list[Path]:
    """The files every image's build context gets beside its own (`build_files/`)."""
    folder = Path(str(files("harness.containers") / "build_files"))
    return sorted(p for p in folder.iterdir() if p.is_file())


def folder_files(folder: Path) -> dict[str, Path]:
    """Relative path -> file, for every file under `folder`."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def context_files(image_directory: Path) -> dict[str, Path]:
    """Build-context path -> source file: the image folder's files, then the shared ones."""
    found = folder_files(image_directory)
    for path in shared_build_files():
        found.setdefault(path.name, path)
    return found


def inputs_digest(image_directory: Path, base_tag: str, base_id: str) -> str:
    """12 hex digits of a hash over the build context's files and the base image."""
    return _digest(context_files(image_directory), base_tag, base_id)


def _digest(context: dict[str, Path], base_tag: str, base_id: str) -> str:
    digest = hashlib.sha256(f"base {base_tag} {base_id}\n".encode())
    for relative, path in context.items():
        digest.update(f"file {relative} {path.stat().st_size}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_image(
    metadata: TargetMetadata,
    client: docker.DockerClient | None = None,
    *,
    suite: str = DEFAULT_SUITE,
) -> str:
    """The tag of the image of `metadata`'s folder on Debian `suite`, built (with the base)
    unless present. The suite is in the base's tag, so each suite's image has its own hash."""
    client = client or docker_client()
    base_tag = ensure_base_image(client, suite=suite)
    base_id = str(client.images.get(base_tag).id)
    digest = inputs_digest(metadata.image_directory, base_tag, base_id)
    tag = f"mailstorm/{metadata.name}:{digest}"
    if _has_image(client, tag):
        return tag
    with exclusive_lock(f"target-{tag}"):
        if not _has_image(client, tag):
            _build(client, metadata, tag, base_tag)
    return tag


def ensure_derived_image(
    name: str, context: Path, base_tag: str, client: docker.DockerClient | None = None
) -> str:
    """The tag of an image built from `context` (a folder with a Dockerfile that starts
    `ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}`) on top of the image `base_tag`: a user target's
    own additions to the bundled image it extends. Built unless present; the hash covers the
    folder's files and the base image, so an edit or a rebuilt base gives a new tag."""
    client = client or docker_client()
    base_id = str(client.images.get(base_tag).id)
    tag = f"mailstorm/{name}:{_digest(folder_files(context), base_tag, base_id)}"
    if _has_image(client, tag):
        return tag
    with exclusive_lock(f"target-{tag}"):
        if not _has_image(client, tag):
            _build_context(client, name, context, context, tag, base_tag)
    return tag


def ensure_assembled_image(
    name: str,
    digest: str,
    base_tag: str,
    assemble: Callable[[Path], None],
    *,
    kind: ImageKind,
    client: docker.DockerClient | None = None,
) -> str:
    """The tag `mailstorm/<name>:<digest>`, built unless present from a context that
    `assemble` writes into an empty directory (its Dockerfile starts `ARG BASE_IMAGE` /
    `FROM ${BASE_IMAGE}`). The caller's `digest` must cover everything `assemble` writes
    and the base image: it is what decides whether to build."""
    client = client or docker_client()
    tag = f"mailstorm/{name}:{digest}"
    if _has_image(client, tag):
        return tag
    with exclusive_lock(f"image-{tag}"):
        if not _has_image(client, tag):
            with tempfile.TemporaryDirectory(prefix="mailstorm-build-") as context:
                assemble(Path(context))
                _build_context(client, name, Path(context), Path(context), tag, base_tag, kind)
    return tag


def _build(client: docker.DockerClient, metadata: TargetMetadata, tag: str, base_tag: str) -> None:
    with tempfile.TemporaryDirectory(prefix="mailstorm-build-") as context:
        for relative, path in context_files(metadata.image_directory).items():
            destination = Path(context) / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            if relative.endswith(".c"):
                compile_shared_library(path, Path(context) / compiled_name(relative))
        if needs_npm_packages(Path(context)):
            install_npm_packages(Path(context))
        _build_context(
            client, metadata.name, metadata.image_directory, Path(context), tag, base_tag
        )


def _build_context(
    client: docker.DockerClient,
    name: str,
    directory: Path,
    context: Path,
    tag: str,
    base_tag: str,
    kind: ImageKind = ImageKind.TARGET,
) -> None:
    """Build `context` (assembled from `directory`, which error messages name) as `tag`."""
    log_path = cache_dir() / f"build-{tag.replace('/', '_').replace(':', '-')}.log"
    labels = {**image_labels(kind), "mailstorm.target": name}
    started = time.monotonic()
    logger.info("building %s from %s on %s", tag, directory, base_tag)
    lines: list[str] = []
    error: str | None = None
    with log_path.open("w", encoding="utf-8") as log:
        try:
            stream = client.api.build(
                path=str(context),
                tag=tag,
                buildargs={"BASE_IMAGE": base_tag},
                labels=labels,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            for chunk in stream:
                text = _chunk_text(chunk)
                if text:
                    log.write(text)
                    lines.extend(text.splitlines())
                if "error" in chunk:
                    error = str(chunk.get("error", "")).strip()
        except (docker.errors.DockerException, requests.RequestException) as failure:
            error = f"{type(failure).__name__}: {failure}"
    if error is None and not _has_image(client, tag):
        error = "the build ended without producing the image"
    if error is not None:
        tail = "\n".join(lines[-LOG_TAIL_LINES:])
        raise ImageBuildError(
            f"building {tag} from {directory}/Dockerfile failed: {error}\n"
            f"--- last lines of the build log ({log_path}) ---\n{tail}"
        )
    logger.info("built %s in %.0f s", tag, time.monotonic() - started)


def _chunk_text(chunk: dict[str, Any]) -> str:
    if "stream" in chunk:
        return str(chunk["stream"])
    if "error" in chunk:
        return f"ERROR: {chunk['error']}\n"
    if "status" in chunk:
        return f"{chunk['status']}\n"
    return ""


def _has_image(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True
