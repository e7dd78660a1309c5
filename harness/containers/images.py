"""Target images: `targets/<name>/Dockerfile` built FROM the Debian base, once per input.

The tag is `mailstorm/<name>:<hash>`, the hash covering every file of the target directory and
the base image (tag and id), so a changed Dockerfile or a rebuilt base gives a new tag and an
unchanged one is found and not built again. Builds of one tag are serialized by a file lock.
A failed build raises ImageBuildError with the tail of its log (also kept in the cache dir).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from harness.containers.base_image import ensure_base_image
from harness.containers.cache import cache_dir, exclusive_lock
from harness.containers.engine import docker_client
from harness.containers.labels import ImageKind, image_labels
from harness.containers.target_metadata import target_dir
from harness.errors import ImageBuildError

logger = logging.getLogger(__name__)

#: Lines of build output attached to an ImageBuildError.
LOG_TAIL_LINES = 30


def inputs_digest(directory: Path, base_tag: str, base_id: str) -> str:
    """12 hex digits of a hash over the target directory's files and the base image."""
    digest = hashlib.sha256(f"base {base_tag} {base_id}\n".encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory)
        if "__pycache__" in relative.parts:
            continue
        digest.update(f"file {relative.as_posix()} {path.stat().st_size}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_target_image(name: str, client: docker.DockerClient | None = None) -> str:
    """The tag of target `name`'s image, built (with the base, if need be) unless present."""
    directory = target_dir(name)  # UnknownTargetError before touching the engine
    client = client or docker_client()
    base_tag = ensure_base_image(client)
    base_id = str(client.images.get(base_tag).id)
    tag = f"mailstorm/{name}:{inputs_digest(directory, base_tag, base_id)}"
    if _has_image(client, tag):
        return tag
    with exclusive_lock(f"target-{tag}"):
        if not _has_image(client, tag):
            _build(client, name, directory, tag, base_tag)
    return tag


def _build(
    client: docker.DockerClient, name: str, directory: Path, tag: str, base_tag: str
) -> None:
    log_path = cache_dir() / f"build-{tag.replace('/', '_').replace(':', '-')}.log"
    labels = {**image_labels(ImageKind.TARGET), "mailstorm.target": name}
    started = time.monotonic()
    logger.info("building %s from %s on %s", tag, directory, base_tag)
    lines: list[str] = []
    error: str | None = None
    with log_path.open("w", encoding="utf-8") as log:
        try:
            stream = client.api.build(
                path=str(directory),
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
