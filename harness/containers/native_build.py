"""Shared libraries an image needs, compiled on the host from C beside the build files.

The images have no compiler (installing one would cost every build a minute of packages), so a
small preload library such as `mailstorm-alarm.c` is compiled here, with the host's C compiler,
into the build context. The library uses nothing newer than the host's C library, and every
Debian suite an image builds on (bookworm and later) has at least that one. The image's hash
covers the C source, not the compiled file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.errors import ImageBuildError

#: Flags for a position-independent preload library with no dependencies but libc.
COMPILE_FLAGS = ("-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC")


def compiled_name(source: str) -> str:
    """The build-context name of the library compiled from `source` (x.c -> x.so)."""
    return source.removesuffix(".c") + ".so"


def compile_shared_library(source: Path, destination: Path) -> None:
    """Compile `source` into the shared library `destination`, or say why not."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise ImageBuildError(
            f"building an image needs a C compiler on this machine for {source.name} "
            "(apt-get install gcc libc6-dev)"
        )
    result = subprocess.run(
        [compiler, *COMPILE_FLAGS, "-o", str(destination), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ImageBuildError(
            f"compiling {source} failed ({compiler}, exit {result.returncode}):\n"
            f"{result.stderr.strip()}"
        )
