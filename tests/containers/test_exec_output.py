"""A command's output reaches the harness whole even when the engine's stream arrives before
the harness reads the engine's answer: the case in which docker-py's `exec_run` returns nothing.

The late reader is made, not waited for by chance: the client's read of the `101 UPGRADED`
answer is held until the whole output is already in the socket's receive queue (FIONREAD), so
both come in one read of http.client's buffered reader. Whether that condition really held is
shown by docker-py's own `exec_run`, which loses the output under it.
"""

from __future__ import annotations

import fcntl
import http.client
import socket
import struct
import termios
from collections.abc import Callable, Iterator

import docker
import pytest
from docker.models.containers import Container

from harness.containers import run_in_container
from harness.containers.labels import run_labels
from harness.waiting import wait_until

pytestmark = pytest.mark.docker

#: Output small enough to fit in http.client's 8 KiB buffer together with the answer's headers,
#: and one many times larger, whose beginning would be lost.
SMALL = 3000
LARGE = 40_000
#: The frame header docker puts before each chunk of a command's output.
FRAME_HEADER_BYTES = 8


def _queued_bytes(sock: socket.socket) -> int:
    raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
    return int(struct.unpack("i", raw)[0])


@pytest.fixture
def late_reader(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Hold the reading of an exec's `101` answer until `n` bytes wait in the socket."""
    begin = http.client.HTTPResponse.begin

    def hold_until(n: int) -> None:
        def held_begin(response: http.client.HTTPResponse) -> None:
            sock: socket.socket = response.fp.raw._sock  # type: ignore[attr-defined]
            if sock.recv(12, socket.MSG_PEEK) == b"HTTP/1.1 101":
                wait_until(
                    lambda: _queued_bytes(sock) >= n,
                    timeout=30,
                    what=f"{n} bytes of the exec's stream queued before its answer is read",
                    seen=lambda: f"{_queued_bytes(sock)} bytes",
                    interval=0.01,
                )
            begin(response)

        monkeypatch.setattr(http.client.HTTPResponse, "begin", held_begin)

    return hold_until


@pytest.fixture
def container(engine: docker.DockerClient, base_image: str) -> Iterator[Container]:
    started = engine.containers.run(
        base_image, ["sleep", "infinity"], detach=True, labels=run_labels(), init=True
    )
    yield started
    started.remove(force=True)


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_output_that_arrives_with_the_engines_answer_is_kept(
    container: Container, late_reader: Callable[[int], None], size: int
) -> None:
    command = ["sh", "-c", f"head -c {size} /dev/zero | tr '\\0' x; echo; exit 3"]
    expected = b"x" * size + b"\n"
    late_reader(size + FRAME_HEADER_BYTES)

    lossy = container.exec_run(command).output
    assert isinstance(lossy, bytes)
    assert len(lossy) < size, (
        "docker-py's exec_run kept the output that came with the engine's answer: the late "
        "read this test sets up did not happen, or docker-py no longer loses it"
    )

    kept = run_in_container(container, command)
    assert kept.output == expected
    assert kept.exit_code == 3


def test_stdout_and_stderr_and_the_user_are_the_commands(container: Container) -> None:
    result = run_in_container(container, ["sh", "-c", "id -un; echo oops >&2"], user="nobody")
    assert sorted(result.text.splitlines()) == ["nobody", "oops"]
    assert result.exit_code == 0


def test_a_command_may_outlast_the_clients_request_timeout(container: Container) -> None:
    """Sendmail's submission waits a minute for a DNS timeout, as long as the engine client's
    request timeout: the stream of a command is read without one."""
    impatient = docker.from_env(timeout=1)
    try:
        same = impatient.containers.get(str(container.id))
        result = run_in_container(same, ["sh", "-c", "sleep 2; echo done"])
    finally:
        impatient.close()
    assert (result.exit_code, result.text) == (0, "done\n")
