"""npm packages an image needs, installed on the host into its build context.

A container here reaches the Debian mirror but not the npm registry over HTTPS (it lacks the
host's CA bundle and may lack the route), so an image folder that holds a `package-lock.json`
(Haraka's) has its packages installed by the host's npm into the build context, exactly the
versions the lock file names (`npm ci`), and its Dockerfile copies `node_modules/` in. The
image's hash covers the lock file, not the installed tree; optional dependencies and install
scripts are left out (no compiler runs on the host for an image).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.errors import ImageBuildError

#: The lock file whose presence asks for the install.
LOCK_FILE = "package-lock.json"
NPM_COMMAND = ("ci", "--omit=optional", "--ignore-scripts", "--no-audit", "--no-fund")
#: Lines of npm's output shown when it fails.
OUTPUT_TAIL_LINES = 20


def needs_npm_packages(context: Path) -> bool:
    return (context / LOCK_FILE).is_file()


def install_npm_packages(context: Path) -> None:
    """`npm ci` in `context`, or an ImageBuildError that says what is missing."""
    npm = shutil.which("npm")
    if npm is None:
        raise ImageBuildError(
            f"{context.name}: the image needs npm packages ({LOCK_FILE}) and this machine has no "
            "npm to fetch them with: install it (Debian: apt-get install npm)"
        )
    result = subprocess.run(
        [npm, *NPM_COMMAND], cwd=context, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-OUTPUT_TAIL_LINES:])
        raise ImageBuildError(
            f"`npm {' '.join(NPM_COMMAND)}` for the image's {LOCK_FILE} exited "
            f"{result.returncode} (the npm registry must be reachable from this machine):\n{tail}"
        )
