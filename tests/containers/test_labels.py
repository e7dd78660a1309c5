"""Run labels and owner liveness: what lets cleanup tell a dead run from a live one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from harness.containers import labels
from harness.containers.cleanup import owner_alive
from harness.containers.labels import Owner, owner_of, process_start


def test_run_labels_name_this_process_and_run() -> None:
    found = labels.run_labels()
    assert found[labels.MAILSTORM] == "1"
    assert found[labels.PID] == str(os.getpid())
    assert found[labels.RUN] == labels.run_id()
    assert found[labels.HOST] == socket.gethostname()
    assert owner_of(found) == labels.current_owner()


def test_owner_alive() -> None:
    me = os.getpid()
    host = socket.gethostname()
    assert owner_alive(Owner("r", me, process_start(me), host))
    assert owner_alive(Owner("r", me, "", host)), "no start time recorded: the pid decides"
    wrong_start = str(int(process_start(me) or "0") + 1)
    assert not owner_alive(Owner("r", me, wrong_start, host)), "a recycled pid is not the owner"
    assert owner_alive(Owner("r", 2**22 + 17, "", "another-host")), "cannot check: keep"

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child_owner = Owner("r", child.pid, process_start(child.pid), host)
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert not owner_alive(child_owner)
    child.wait()
    assert not owner_alive(child_owner)


def test_labels_without_an_owner() -> None:
    assert owner_of({labels.MAILSTORM: "1"}) is None
    assert owner_of({labels.PID: "not-a-pid"}) is None


def test_importing_harness_changes_no_environment() -> None:
    code = (
        "import os; before = dict(os.environ); import harness, harness.containers, "
        "harness.targets; assert dict(os.environ) == before, set(os.environ) ^ set(before)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TESTCONTAINERS_RYUK_DISABLED"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_ryuk_is_disabled_before_a_container_starts() -> None:
    code = (
        "from harness.containers import disable_ryuk; "
        "from testcontainers.core.config import testcontainers_config as c; "
        "disable_ryuk(); assert c.ryuk_disabled"
    )
    env = {k: v for k, v in os.environ.items() if k != "TESTCONTAINERS_RYUK_DISABLED"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
