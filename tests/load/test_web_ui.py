"""Locust's web UI with the herd locustfile: it serves, starts the herd from a browser's form
post, and the herd reaches the receiver. (Only loopback; bounded by the curve and a deadline.)"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.herd.run.locust_run import LOCUSTFILE
from harness.ports import free_port
from harness.pytest_plugin import ReceiverFactory
from harness.receiver import ACCEPT_ALL, Journal
from harness.waiting import wait_until

pytestmark = pytest.mark.slow


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bytes(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.fixture
def web_ui(tmp_path: Path, receiver_factory: ReceiverFactory) -> Iterator[tuple[str, str, Path]]:
    receiver = receiver_factory(ACCEPT_ALL)
    port = free_port("127.0.0.1")
    log = (tmp_path / "locust.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "-H",
            f"127.0.0.1:{receiver.port}",
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--herd-curve",
            "constant:20:2",
            "--herd-time-factor",
            "1",
            "--herd-out",
            str(tmp_path),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", f"127.0.0.1:{receiver.port}", receiver.journal_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_the_web_ui_serves_and_runs_the_herd(web_ui: tuple[str, str, Path]) -> None:
    base, target, journal_path = web_ui
    page = wait_until(lambda: _get(base + "/"), timeout=30, what="Locust's web UI")
    assert page is not None
    assert b"locust" in page.lower()
    # What the page's Start button posts: its host field is pre-filled with -H; the shape
    # sets the users, but the fields are required.
    form = urllib.parse.urlencode({"user_count": "1", "spawn_rate": "1", "host": target})
    form_bytes = form.encode()
    with urllib.request.urlopen(base + "/swarm", data=form_bytes, timeout=5) as response:
        assert json.loads(response.read())["success"] is True

    def eod_requests() -> int:
        body = _get(base + "/stats/requests")
        rows = json.loads(body)["stats"] if body else []
        return sum(int(r["num_requests"]) for r in rows if r["name"] == "eod")

    wait_until(lambda: eod_requests() >= 40, timeout=60, what="40 messages through the web UI")
    with Journal(journal_path) as journal:
        assert len(journal.messages()) >= 40
