"""A command run inside a container, with all of its output.

docker-py's `exec_run` loses output. It starts the exec with an HTTP request that the engine
answers `101 UPGRADED` and then turns into the command's raw stream; http.client reads that
status line and its headers through a buffered reader, and docker-py then reads the stream from
the raw socket underneath (`response.raw._fp.fp.raw`, docker/api/client.py
`_get_raw_response_socket`). Whatever of the stream arrived in the same read as the headers sits
in the buffer and is never seen: when the client reads the headers late (a busy host, a
thread that lost the GIL), a short command's whole output is gone, `exit_code` 0 and output
`b""`, and a long one loses its first up to 8 KiB (docker-py issues #2042, #3332). A CI run
met it as an Exim target whose `cat /etc/init.d/exim4` came back empty.

`run_in_container` reads the same stream through that buffered reader instead, so nothing
that came with the headers is skipped, with no timeout on the command (docker-py's has none
either), and takes the exit code from the exec's inspection.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import docker.errors
import requests

from harness.errors import MailstormError

#: Docker's multiplexed stream (no TTY): a frame is an 8-byte header (stream id, three zero
#: bytes, big-endian length) followed by that many bytes of stdout or stderr.
FRAME_HEADER = struct.Struct(">BxxxL")
#: The engine's answer when it hands the connection over to the command's stream.
SWITCHING_PROTOCOLS = 101


class ExecStreamError(MailstormError):
    """The engine's answer to starting an exec was not the command's stream."""


@dataclass(frozen=True)
class CommandResult:
    """What a command run in a container gave: its exit status, stdout and stderr interleaved."""

    exit_code: int
    output: bytes

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


def run_in_container(
    container: Any, command: Sequence[str], *, user: str | None = None
) -> CommandResult:
    """Run `command` in `container` (a docker-py Container) and wait for it to end; an
    ExecStreamError when the engine cannot be reached or answers with an error, so that one
    case's failure is that case's error, not the run's."""
    try:
        return _run(container, command, user)
    except (OSError, requests.RequestException, docker.errors.DockerException) as error:
        raise ExecStreamError(
            f"`{' '.join(command)}` in {getattr(container, 'name', container)}: "
            f"{type(error).__name__}: {error}"
        ) from error


def _run(container: Any, command: Sequence[str], user: str | None) -> CommandResult:
    api = container.client.api
    argv = list(command)
    created = api.exec_create(container.id, argv, stdout=True, stderr=True, user=user or "")
    exec_id = created["Id"]
    response = api._post_json(  # the start request exec_start sends, read our own way
        api._url("/exec/{0}/start", exec_id),
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        data={"Tty": False, "Detach": False},
        stream=True,
    )
    try:
        api._raise_for_status(response)
        if response.status_code != SWITCHING_PROTOCOLS:
            raise ExecStreamError(
                f"starting `{' '.join(command)}` in {container.name}: the engine answered "
                f"{response.status_code}, not {SWITCHING_PROTOCOLS} with the command's stream"
            )
        reader = response.raw._fp.fp
        # A command may run longer than the client's request timeout (Sendmail's submission
        # waits a minute for a DNS timeout): the stream waits for it, as docker-py's does.
        reader.raw._sock.settimeout(None)
        output = _read_frames(reader)
    finally:
        response.close()
    exit_code = api.exec_inspect(exec_id)["ExitCode"]
    return CommandResult(int(exit_code if exit_code is not None else -1), output)


def _read_frames(reader: Any) -> bytes:
    """Every frame's payload until the engine closes the stream."""
    chunks: list[bytes] = []
    while True:
        header = reader.read(FRAME_HEADER.size)
        if not header:
            return b"".join(chunks)
        if len(header) < FRAME_HEADER.size:
            raise ExecStreamError(f"the exec stream ended inside a frame header: {header!r}")
        _, length = FRAME_HEADER.unpack(header)
        payload = reader.read(length)
        if len(payload) < length:
            raise ExecStreamError(
                f"the exec stream ended after {len(payload)} of a frame's {length} bytes"
            )
        chunks.append(payload)
