"""Build the herd's worker image: Locust and this mailstorm, to run Locust workers in containers.

A worker in a container is a sending host of its own: its own addresses on a Docker network, its
own process, the master on this machine. The image must run the same herd code as the master,
or they would not agree on the curve, the share messages, the records. So nothing is fetched:
the image gets Debian's `python3` of this interpreter's version, the Python distributions the
herd's locustfile imports (found by importing it in a subprocess and mapping each module to its
distribution, plus their requirements), copied file by file from this environment, and this
mailstorm's `harness` source. The tag's hash covers all of it, so an edit to the harness or an
upgraded Locust builds a new image and an unchanged one builds nothing.

Compiled distributions (gevent, pyzmq, greenlet) are only copied into a Debian whose python3
is the version they were built for: bookworm for 3.11, trixie for 3.13; another interpreter
version is a one-line error.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path, PurePosixPath

import docker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.containers.base_image import ensure_base_image
from harness.containers.engine import docker_client
from harness.containers.images import ensure_assembled_image, folder_files
from harness.containers.labels import ImageKind
from harness.errors import HerdError
from harness.python_path import harness_environment

IMAGE_NAME = "herd-worker"
#: Debian suites whose python3 is a given version (the compiled wheels must match it).
SUITE_OF_PYTHON = {(3, 11): "bookworm", (3, 13): "trixie"}
#: Prints the distributions behind every module the locustfile import loads, as JSON.
_LIST_IMPORTS = """
import importlib.metadata, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("herd_locustfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
owners = importlib.metadata.packages_distributions()
names = {d for m in list(sys.modules) for d in owners.get(m.partition(".")[0], [])}
print(json.dumps(sorted(names)))
"""
_OWN_DISTRIBUTION = "mailstorm"


def worker_suite() -> str:
    """The Debian suite whose python3 runs this interpreter's compiled distributions."""
    version = sys.version_info[:2]
    suite = SUITE_OF_PYTHON.get(version)
    if suite is None:
        known = ", ".join(f"{major}.{minor} ({s})" for (major, minor), s in SUITE_OF_PYTHON.items())
        raise HerdError(
            f"the herd worker image copies this Python {version[0]}.{version[1]}'s packages "
            f"into a Debian with the same python3, and none has it (known: {known}); run the "
            "workers on machines with mailstorm installed instead (docs/herd-distributed.md)"
        )
    return suite


def worker_distributions() -> list[metadata.Distribution]:
    """The distributions the herd's locustfile imports, with everything they require."""
    locustfile = Path(str(files("harness.herd.run.load") / "locustfile.py"))
    done = subprocess.run(
        [sys.executable, "-c", _LIST_IMPORTS, str(locustfile)],
        capture_output=True,
        text=True,
        check=False,
        env=harness_environment(),
    )
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise HerdError(f"cannot import the herd's locustfile to find its packages: {said}")
    wanted = [name for name in json.loads(done.stdout) if name != _OWN_DISTRIBUTION]
    found: dict[str, metadata.Distribution] = {}
    while wanted:
        name = canonicalize_name(wanted.pop())
        if name in found:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional requirement that is not installed: not imported either
        found[name] = distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
    return [found[name] for name in sorted(found)]


def _distribution_files(distribution: metadata.Distribution) -> dict[str, Path]:
    """site-packages path -> file, for the files the distribution installed there."""
    found: dict[str, Path] = {}
    for relative in distribution.files or []:
        path = PurePosixPath(str(relative))
        if ".." in path.parts or "__pycache__" in path.parts:
            continue  # scripts outside site-packages, and bytecode the container rebuilds
        source = Path(str(distribution.locate_file(relative)))
        if source.is_file():
            found[str(path)] = source
    return found


def _harness_files() -> dict[str, Path]:
    package = Path(str(files("harness")))
    return {f"harness/{relative}": path for relative, path in folder_files(package).items()}


def _recipe_files() -> dict[str, Path]:
    folder = Path(str(files("harness.herd.run.worker_image")))
    return {name: folder / name for name in ("Dockerfile", "herd-worker")}


def ensure_worker_image(client: docker.DockerClient | None = None) -> str:
    """The worker image's tag, built unless present (a minute or two the first time)."""
    client = client or docker_client()
    suite = worker_suite()
    base_tag = ensure_base_image(client, suite=suite)
    base_id = str(client.images.get(base_tag).id)
    distributions = worker_distributions()
    layout: dict[str, Path] = dict(_recipe_files())
    for distribution in distributions:
        for relative, path in _distribution_files(distribution).items():
            layout[f"site-packages/{relative}"] = path
    for relative, path in _harness_files().items():
        layout[f"src/{relative}"] = path
    digest = hashlib.sha256(f"base {base_tag} {base_id} python {sys.version}\n".encode())
    for relative in sorted(layout):
        digest.update(f"file {relative}\n".encode())
        digest.update(layout[relative].read_bytes())

    def assemble(context: Path) -> None:
        for relative, path in layout.items():
            destination = context / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)

    return ensure_assembled_image(
        IMAGE_NAME,
        digest.hexdigest()[:12],
        base_tag,
        assemble,
        kind=ImageKind.HERD_WORKER,
        client=client,
    )
