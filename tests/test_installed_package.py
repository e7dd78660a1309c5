"""mailstorm installed from the checkout into a fresh virtualenv works from an empty directory.

The wheel must carry everything the package reads (target folders, images' build files, the
scenario catalogue, the locustfile): nothing may be found through the checkout. So this builds
and installs the checkout with pip into a new virtualenv outside it, then, from an empty
directory, runs the main job for Postfix on a bundled scenario and a user's own scenario file,
the herd model, the receiver on a user's own plan, and a user's own pytest file that uses
the `receiver` fixture.

The retry schedule is attached from the committed reference (`--schedules`) rather than
measured: measuring it is 150 s of the same code that the checkout's own tests run, and the
code path that matters here, reading a schedule.json and writing the reports, is the same.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import smtplib
import subprocess
import venv
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
REFERENCE_SCHEDULES = CHECKOUT / "reports" / "reference" / "schedule.json"

pytestmark = [pytest.mark.slow, pytest.mark.docker]

OWN_SCENARIO = """\
[scenario]
id = "my-data-452"
kind = "reply"
tier = "fine"
description = "a user's own scenario: 452 to DATA"
observe = "1h"
checks = ["retried", "delivered-after-recovery"]

[[rule]]
stage = "data"
reply = "452 4.3.1 insufficient system storage"
message_attempt = 1
"""

OWN_TEST = """\
import smtplib
from pathlib import Path

import harness
import pytest
from harness.scenarios import load_scenario

SCENARIO = load_scenario(Path(__file__).with_name("my-rcpt.toml"))


@pytest.fixture
def receiver_plan():
    return SCENARIO.plan


def test_the_installed_package_is_the_one_imported():
    assert "site-packages" in harness.__file__, harness.__file__


def test_my_scenario_refuses_the_recipient(receiver):
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        client.ehlo("me.example")
        code, _ = client.mail("a@me.example")
        assert code == 250
        code, _ = client.rcpt("b@" + SCENARIO.domain)
        assert code == 550
"""

OWN_TEST_SCENARIO = """\
[scenario]
id = "my-rcpt"
kind = "reply"
description = "550 at RCPT"
observe = "1m"
checks = []

[[rule]]
stage = "rcpt"
reply = "550 5.1.1 no"
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv (outside the checkout) with the checkout pip-installed; its bin/."""
    root = tmp_path_factory.mktemp("installed")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-cache-dir", str(CHECKOUT)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return bin_dir


def installed_environment(bin_dir: Path) -> dict[str, str]:
    """This environment with the venv first on PATH and nothing pointing into the checkout."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PATH"] = f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}"
    environment.pop("VIRTUAL_ENV", None)
    return environment


def run_in(directory: Path, bin_dir: Path, *command: str, timeout: float) -> str:
    """Run an installed command from `directory` with the venv first on PATH; its output."""
    result = subprocess.run(
        [str(bin_dir / command[0]), *command[1:]],
        cwd=directory,
        env=installed_environment(bin_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
    return output


def test_the_installed_package_carries_no_checkout_path(installed: Path) -> None:
    code = (
        "import harness, importlib.resources as r;"
        "from harness.targets import target_metadata, target_names;"
        "from harness.herd.run.locust_run import LOCUSTFILE;"
        "print(harness.__file__);"
        "print(*(target_metadata(n).image_directory for n in target_names()));"
        "print(LOCUSTFILE)"
    )
    output = run_in(installed.parent.parent, installed, "python", "-c", code, timeout=60)
    assert str(CHECKOUT) not in output, output
    assert output.count("site-packages") >= 4, output
    assert (installed.parent / "lib").exists()


def test_the_main_job_runs_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "my-data-452.toml").write_text(OWN_SCENARIO, encoding="utf-8")

    run_in(
        tmp_path,
        installed,
        "mailstorm",
        "matrix",
        "--targets",
        "postfix",
        "--scenario",
        "rcpt-550",
        "--scenario",
        "my-data-452.toml",
        "--schedules",
        str(REFERENCE_SCHEDULES),
        timeout=900,
    )

    latest = tmp_path / "reports" / "latest"
    for name in ("matrix.json", "matrix.md", "matrix.html", "junit.xml"):
        assert (latest / name).is_file(), name
    matrix = json.loads((latest / "matrix.json").read_text(encoding="utf-8"))
    verdicts = {(case["target"], case["scenario"]): case["verdict"] for case in matrix["cases"]}
    assert set(verdicts) == {("postfix", "rcpt-550"), ("postfix", "my-data-452")}
    # The reference verdict for Postfix on rcpt-550 (reports/reference/matrix.json).
    reference = json.loads((CHECKOUT / "reports/reference/matrix.json").read_text("utf-8"))
    expected = next(
        case["verdict"]
        for case in reference["cases"]
        if (case["target"], case["scenario"]) == ("postfix", "rcpt-550")
    )
    assert verdicts[("postfix", "rcpt-550")] == expected
    # Postfix queues a 4xx at DATA and delivers at its next attempt, as it does for data-451.
    assert verdicts[("postfix", "my-data-452")] == "pass"
    assert matrix["targets"][0]["schedule"] is not None


def test_the_herd_model_runs_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    output = run_in(
        tmp_path, installed, "mailstorm", "herd", "model", "--outage", "24h", timeout=300
    )
    written = list((tmp_path / "reports").rglob("herd-model.json"))
    assert written, output


def test_a_users_own_pytest_file_gets_the_receiver_fixture(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "my-rcpt.toml").write_text(OWN_TEST_SCENARIO, encoding="utf-8")
    (tmp_path / "test_mine.py").write_text(OWN_TEST, encoding="utf-8")

    output = run_in(
        tmp_path, installed, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", timeout=300
    )

    assert "2 passed" in output, output


def test_the_receiver_command_serves_a_users_plan_from_an_empty_directory(
    installed: Path, tmp_path: Path
) -> None:
    (tmp_path / "my-rcpt.toml").write_text(OWN_TEST_SCENARIO, encoding="utf-8")
    process = subprocess.Popen(
        [
            str(installed / "mailstorm"),
            "receiver",
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            "my-rcpt.toml",
            "--journal",
            "journal.sqlite",
        ],
        cwd=tmp_path,
        env=installed_environment(installed),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        address = None
        seen = b""
        # Raw reads of the pipe: a buffered readline could hold the line select() waits for.
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while address is None and selector.select(timeout=60):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
                for line in seen.decode("utf-8", "replace").splitlines():
                    if line.startswith("listening primary="):
                        address = line.strip().split("=", 1)[1]
        assert address is not None, seen.decode("utf-8", "replace")
        host, _, port = address.rpartition(":")
        with smtplib.SMTP(host, int(port), timeout=10) as client:
            client.ehlo("me.example")
            assert client.mail("a@me.example")[0] == 250
            assert client.rcpt("b@my-rcpt.mailstorm.test")[0] == 550
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest.decode("utf-8", "replace")
    assert (tmp_path / "journal.sqlite").is_file()
