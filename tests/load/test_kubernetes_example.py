"""The Kubernetes example (docs/examples/kubernetes/locusttest.yaml) asks only for what exists:
Locust options that Locust with the herd's locustfile accepts, and the locustfile where the
worker image puts it."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

from harness.herd.run.locust_run import LOCUSTFILE, locust_environment

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "docs" / "examples" / "kubernetes" / "locusttest.yaml"


def commands() -> dict[str, list[str]]:
    found = re.findall(r"^\s{4}command: \"([^\"]+)\"$", MANIFEST.read_text(), re.MULTILINE)
    assert len(found) == 2, found  # the master's, then the workers'
    return {"master": found[0].split(), "worker": found[1].split()}


#: Parses Locust's command line with the herd's options added, as `locust` does after loading
#: the locustfile; exits 2 with argparse's message on an option it does not know.
_PARSE = """
import importlib.util, sys
import locust.argument_parser as argument_parser
spec = importlib.util.spec_from_file_location("herd_locustfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
argument_parser.get_parser().parse_args(sys.argv[2:])
"""


def test_every_option_in_the_manifest_is_one_locust_with_the_herd_accepts() -> None:
    for role, arguments in commands().items():
        local = [str(LOCUSTFILE) if a.endswith("locustfile.py") else a for a in arguments]
        # what the operator adds (internal/resources/command.go)
        added = (
            ["--master", "--autostart", "--autoquit", "60"] if role == "master" else ["--worker"]
        )
        parsed = subprocess.run(
            [sys.executable, "-c", _PARSE, str(LOCUSTFILE), *local, *added],
            capture_output=True,
            text=True,
            timeout=120,
            env=locust_environment(),
            check=False,
        )
        assert parsed.returncode == 0, (role, parsed.stderr[-800:])
    bad = subprocess.run(
        [sys.executable, "-c", _PARSE, str(LOCUSTFILE), "--herd-no-such-option", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=locust_environment(),
        check=False,
    )
    assert bad.returncode == 2  # the parse can fail: it is a real check
    assert "--herd-no-such-option" in bad.stderr


def test_the_manifest_names_the_locustfile_where_the_image_puts_it() -> None:
    dockerfile = Path(str(files("harness.herd.run.worker_image") / "Dockerfile")).read_text()
    in_image = re.search(r"MAILSTORM_HERD_LOCUSTFILE=(\S+)", dockerfile)
    assert in_image is not None
    for arguments in commands().values():
        assert arguments[arguments.index("--locustfile") + 1] == in_image.group(1)
