"""The base image and the target images, built on a real engine (no registry needed)."""

from __future__ import annotations

import shlex
from pathlib import Path

import docker
import pytest

from harness.containers.base_image import ensure_base_image
from harness.containers.images import ensure_image, inputs_digest, shared_build_files
from harness.containers.labels import IMAGE, MAILSTORM
from harness.containers.target_metadata import TargetMetadata, load_target_metadata
from harness.errors import ImageBuildError, TargetMetadataError, UnknownTargetError
from harness.herd.run.inbound import image_metadata
from harness.targets import target_class, target_metadata, target_names

#: Every image folder the package carries: the sender targets and the inbound Postfix.
IMAGE_FOLDERS = {name: target_metadata(name).directory for name in target_names()} | {
    "postfix-inbound": image_metadata().directory
}


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
        target_metadata("no-such-mta")
    message = str(caught.value)
    assert "'no-such-mta'" in message
    for name in ("postfix", "exim"):
        assert name in message


def test_path_like_target_names_are_unknown() -> None:
    with pytest.raises(UnknownTargetError):
        target_metadata("../targets/postfix")


def image_folder(root: Path, dockerfile: str = "FROM x\n") -> Path:
    (root / "image").mkdir(parents=True)
    (root / "image" / "Dockerfile").write_text(dockerfile)
    (root / "target.toml").write_text(
        'name = "broken"\npackage = "coreutils"\nversion_command = ["true"]\n'
        "version_pattern = '(.*)'\n"
    )
    return root


def test_target_tag_follows_the_image_files_and_the_base(tmp_path: Path) -> None:
    image = image_folder(tmp_path) / "image"
    first = inputs_digest(image, "base:1", "sha256:a")
    assert inputs_digest(image, "base:1", "sha256:a") == first
    assert inputs_digest(image, "base:2", "sha256:a") != first
    assert inputs_digest(image, "base:1", "sha256:b") != first
    (image / "main.cf.fragment").write_text("x\n")
    assert inputs_digest(image, "base:1", "sha256:a") != first


def test_files_beside_the_image_folder_do_not_change_the_tag(tmp_path: Path) -> None:
    # A driver or a config template changes no image: only image/ and the shared files count.
    image = image_folder(tmp_path) / "image"
    first = inputs_digest(image, "base:1", "sha256:a")
    (tmp_path / "driver.py").write_text("changed = True\n")
    (tmp_path / "exim4.conf.template").write_text("x\n")
    assert inputs_digest(image, "base:1", "sha256:a") == first


def test_every_image_shares_the_one_image_setup_script() -> None:
    shared = {path.name for path in shared_build_files()}
    assert "mailstorm-image-setup.sh" in shared
    for name, folder in IMAGE_FOLDERS.items():
        dockerfile = (folder / "image" / "Dockerfile").read_text(encoding="utf-8")
        assert "mailstorm-image-setup.sh" in dockerfile, name
        assert "libfaketime" not in dockerfile.replace("mailstorm-image-setup", ""), (
            f"{name}: the libfaketime preparation belongs in the shared setup script"
        )


def test_a_folder_without_a_dockerfile_is_no_image_folder(tmp_path: Path) -> None:
    (tmp_path / "target.toml").write_text('name = "x"\n')
    with pytest.raises(TargetMetadataError, match="no image/Dockerfile"):
        load_target_metadata(tmp_path)


@pytest.mark.docker
def test_failed_build_carries_the_log_tail(
    engine: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    folder = image_folder(
        tmp_path / "broken",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo marker-before-failure && exit 3\n",
    )

    with pytest.raises(ImageBuildError) as caught:
        ensure_image(load_target_metadata(folder), engine)

    assert "marker-before-failure" in str(caught.value)
    assert "returned a non-zero code: 3" in str(caught.value)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(IMAGE_FOLDERS))
def test_image_builds_once_and_runs_its_mta(
    engine: docker.DockerClient, base_image: str, name: str
) -> None:
    metadata: TargetMetadata = load_target_metadata(IMAGE_FOLDERS[name])
    tag = ensure_image(metadata, engine)
    image = engine.images.get(tag)
    assert ensure_image(metadata, engine) == tag
    assert engine.images.get(tag).id == image.id
    assert image.labels[MAILSTORM] == "1"

    output = engine.containers.run(
        tag,
        [
            "sh",
            "-c",
            f"{shlex.join(metadata.version_command)}; command -v faketime; command -v ps; "
            f"grep -c . /usr/share/mailstorm/packages.tsv; "
            f"grep '^{metadata.package}\t' /usr/share/mailstorm/packages.tsv",
        ],
        remove=True,
        # Nothing here needs a network. On Docker's default bridge the host's resolvers are
        # out of reach on this machine, and Sendmail's version command waits a minute for
        # its own host name there (0.3 s without a network); the harness runs it in a
        # target's MX network, where the harness DNS answers.
        network_mode="none",
    ).decode()

    assert metadata.parse_version(output), output
    # Every image that can run under the clock warp carries faketime (the no-queue sender has
    # no daemon to warp, and none)
    if name not in target_names() or target_class(name).default_warp_factor is not None:
        assert "/faketime" in output
    assert "/ps" in output
    # The image records the exact Debian package versions it got (one line per package).
    assert f"{metadata.package}\t" in output, output
