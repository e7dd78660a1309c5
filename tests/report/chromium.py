"""Headless Chromium for the HTML report tests: command-line rendering and a DevTools session.

Only file:// URLs are ever opened, and the flags switch off everything that would reach the
network on its own (updates, sync, QUIC, background fetches); host resolution is mapped to
nothing, so even a stray request could not leave the machine. The DevTools protocol runs over
`--remote-debugging-pipe` (JSON messages on file descriptors 3 and 4), so no port is opened and
no websocket client is needed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

TIMEOUT = 60.0
FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--hide-scrollbars",
)


def chromium() -> str:
    """The chromium executable, or a test failure that says how to get it."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "chromium is not installed: the HTML report is tested in headless Chromium. "
        "`./mailstorm test` installs Debian's chromium (scripts/bootstrap.sh ensure_chromium); "
        "elsewhere install it, or deselect these tests with -m 'not browser'"
    )


def file_url(path: Path, fragment: str = "") -> str:
    url = path.resolve().as_uri()
    return f"{url}#{fragment}" if fragment else url


def _environment(profile: Path) -> dict[str, str]:
    # A private HOME and XDG dirs: nothing is written to the user's profile or caches.
    env = dict(os.environ)
    env.update(
        HOME=str(profile), XDG_CONFIG_HOME=str(profile / "config"), XDG_CACHE_HOME=str(profile)
    )
    return env


def run(url: str, profile: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run chromium once (`--dump-dom`, `--screenshot=…`) on a file:// URL; fail clearly."""
    assert url.startswith("file://"), f"only file:// URLs are opened in tests, not {url}"
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *options, url]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(profile),
        start_new_session=True,  # its own process group: killed whole on a timeout
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        pytest.fail(f"chromium did not finish within {TIMEOUT:g}s: {' '.join(command)}")
    finally:
        _kill_group(process)  # helper processes (zygote, utility) must not outlive the test
    if process.returncode != 0:
        pytest.fail(
            f"chromium exited with {process.returncode}; its stderr ends:\n{stderr[-2000:]}"
        )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def _kill_group(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class DevTools:
    """A headless Chromium driven over the DevTools protocol on a pipe; a context manager."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 1000) -> None:
        self.profile = profile
        self.size = (width, height)
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self.session: str | None = None

    def __enter__(self) -> DevTools:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # The child's ends move above 9 first: were one of them 3 or 4 already, the shell's
        # redirections below would overwrite it before reading it.
        to_browser_read = _above_nine(to_browser_read)
        from_browser_write = _above_nine(from_browser_write)
        self.profile.mkdir(parents=True, exist_ok=True)
        self._log = (self.profile / "chromium.log").open("wb")
        command = [
            chromium(),
            *FLAGS,
            f"--user-data-dir={self.profile}",
            f"--window-size={self.size[0]},{self.size[1]}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # The protocol wants the pipes on descriptors 3 (commands in) and 4 (messages out).
        # bash, not sh: dash cannot redirect descriptors above 9.
        shell = f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write}'
        self.process = subprocess.Popen(
            ["bash", "-c", shell, *command],
            pass_fds=(to_browser_read, from_browser_write),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=_environment(self.profile),
            start_new_session=True,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            attached = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
            self.session = attached["sessionId"]
            self.call("Page.enable")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.session = None
                self._send("Browser.close", {})
        except OSError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        _kill_group(self.process)
        self._log.close()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result; a protocol error fails the test."""
        message_id = self._send(method, params)
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._receive(deadline, f"the reply to {method}")
            if message.get("id") == message_id:
                if "error" in message:
                    pytest.fail(f"DevTools {method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._events.append(message)

    def wait_for_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[index]
                    return event
            message = self._receive(deadline, f"the event {method}")
            if "method" in message:
                self._events.append(message)

    def open(self, url: str) -> None:
        """Navigate to a file:// URL and wait until it has loaded."""
        assert url.startswith("file://"), f"only file:// URLs are opened in tests, not {url}"
        self._events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            pytest.fail(
                f"the page's JavaScript failed on {expression!r}: {result['exceptionDetails']}"
            )
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) in the middle of the element."""
        box = self.evaluate(
            f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
            " if (!e) { return null; } e.scrollIntoView({block: 'center'});"
            " var r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        assert box is not None, f"nothing on the page matches {selector}"
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=1,
            )

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def _log_tail(self) -> str:
        self._log.flush()
        lines = (self.profile / "chromium.log").read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if "dbus" not in line)[-3000:]

    def _send(self, method: str, params: dict[str, Any]) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, remaining))
            if not ready:
                pytest.fail(f"chromium did not send {waiting_for} within {TIMEOUT:g}s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                pytest.fail(
                    f"chromium closed the DevTools pipe while we waited for {waiting_for}; "
                    f"its log ends:\n{self._log_tail()}"
                )
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message
