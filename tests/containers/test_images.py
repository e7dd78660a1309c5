"""The base image and the target images, built on a real engine (no registry needed)."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from harness.containers.base_image import ensure_base_image
from harness.containers.images import ensure_target_image, inputs_digest
from harness.containers.labels import IMAGE, MAILSTORM
from harness.containers.target_metadata import known_targets, load_target_metadata
from harness.errors import ImageBuildError, UnknownTargetError


def base_images(engine: docker.DockerClient) -> set[str]:
    return {str(image.id) for image in engine.images.list(filters={"label": f"{IMAGE}=base"})}


@pytest.mark.docker
def test_base_image_is_built_once(engine: docker.DockerClient) -> None:
    first = ensure_base_image(engine)
    image = engine.images.get(first)
    ours_before = base_images(engine)

    second = ensure_base_image(engine)

    again = engine.images.get(second)
    assert second == first
    assert again.id == image.id
    assert again.attrs["Created"] == image.attrs["Created"]
    assert base_images(engine) == ours_before, "the second call built another base"


@pytest.mark.docker
def test_apt_works_in_the_base_image(engine: docker.DockerClient, base_image: str) -> None:
    # Target builds start with `apt-get update`: the base must name a mirror that answers.
    output = engine.containers.run(
        base_image,
        ["sh", "-c", "apt-get update -qq && apt-cache policy postfix"],
        remove=True,
    )
    assert b"Candidate: 3." in output


def test_unknown_target_names_the_known_ones() -> None:
    with pytest.raises(UnknownTargetError) as caught:
        ensure_target_image("no-such-mta")
    message = str(caught.value)
    assert "'no-such-mta'" in message
    for name in ("postfix", "exim"):
        assert name in message


def test_path_like_target_names_are_unknown() -> None:
    with pytest.raises(UnknownTargetError):
        ensure_target_image("../targets/postfix")


def test_target_tag_follows_the_directory_and_the_base(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    first = inputs_digest(tmp_path, "base:1", "sha256:a")
    assert inputs_digest(tmp_path, "base:1", "sha256:a") == first
    assert inputs_digest(tmp_path, "base:2", "sha256:a") != first
    assert inputs_digest(tmp_path, "base:1", "sha256:b") != first
    (tmp_path / "main.cf.template").write_text("x\n")
    assert inputs_digest(tmp_path, "base:1", "sha256:a") != first


@pytest.mark.docker
def test_failed_build_carries_the_log_tail(
    engine: docker.DockerClient, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo marker-before-failure && exit 3\n"
    )
    monkeypatch.setenv("MAILSTORM_TARGETS_DIR", str(tmp_path))

    with pytest.raises(ImageBuildError) as caught:
        ensure_target_image("broken", engine)

    assert "marker-before-failure" in str(caught.value)
    assert "returned a non-zero code: 3" in str(caught.value)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", known_targets())
def test_target_image_builds_once_and_runs_its_mta(
    engine: docker.DockerClient, base_image: str, name: str
) -> None:
    tag = ensure_target_image(name, engine)
    image = engine.images.get(tag)
    assert ensure_target_image(name, engine) == tag
    assert engine.images.get(tag).id == image.id
    assert image.labels[MAILSTORM] == "1"
    metadata = load_target_metadata(name)

    output = engine.containers.run(
        tag,
        ["sh", "-c", f"{' '.join(metadata.version_command)}; command -v faketime; command -v ps"],
        remove=True,
    ).decode()

    assert metadata.parse_version(output), output
    assert "/faketime" in output
    assert "/ps" in output
