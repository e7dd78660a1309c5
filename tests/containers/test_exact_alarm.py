"""The exact alarm() preload library (build_files/mailstorm-alarm.c), compiled on this host as an
image build compiles it, in a real process: a warped alarm under one wall second still fires,
and what alarm() returns is read on the fast clock."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from harness.containers.native_build import compile_shared_library, compiled_name
from harness.errors import ImageBuildError

SOURCE = Path(str(files("harness.containers") / "build_files" / "mailstorm-alarm.c"))

#: Arms alarm(N) twice (the second call reads what is left of the first), then waits for SIGALRM.
PROBE = """
import signal, sys
seconds = int(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
first = signal.alarm(seconds)
left = signal.alarm(seconds)
fired = signal.sigtimedwait({signal.SIGALRM}, 20)
print(first, left, fired is not None)
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("alarm") / compiled_name(SOURCE.name)
    compile_shared_library(SOURCE, destination)
    return destination


def run_preloaded(library: Path, program: str, argument: int, **environment: str) -> list[str]:
    """`program` in a Python with `library` preloaded and `environment` set (no FAKETIME
    unless given); the words it prints."""
    inherited = {k: v for k, v in os.environ.items() if k != "FAKETIME"}
    result = subprocess.run(
        [sys.executable, "-c", program, str(argument)],
        env={**inherited, "LD_PRELOAD": str(library), **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def run_probe(library: Path, seconds: int, faketime: str | None) -> list[str]:
    speed_up = {"FAKETIME": faketime} if faketime is not None else {}
    return run_preloaded(library, PROBE, seconds, **speed_up)


def test_an_alarm_under_one_wall_second_fires_and_reports_fast_seconds(library: Path) -> None:
    # 1799 s on a x1800 clock is 0.9994 wall seconds: libfaketime's own alarm() truncates it
    # to alarm(0), which cancels the timer.
    first, left, fired = run_probe(library, 1799, "+0 x1800")
    assert first == "0"  # nothing was pending
    assert 1 <= int(left) <= 1799  # the fast seconds left, not 0 (none) and not wall seconds
    assert fired == "True"


def test_without_a_speed_up_it_is_alarm_itself(library: Path) -> None:
    first, left, fired = run_probe(library, 2, None)
    assert (first, left, fired) == ("0", "2", "True")


def test_a_source_that_does_not_compile_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.c"
    broken.write_text("int main( {\n")
    with pytest.raises(ImageBuildError, match=r"compiling .*broken\.c failed"):
        compile_shared_library(broken, tmp_path / "broken.so")


#: Polls nothing for argv[1] milliseconds (Python's select.poll calls the C library's poll()).
POLL_PROBE = """
import select, sys, time
started = time.monotonic()
ready = select.poll().poll(int(sys.argv[1]))
print(ready, round(time.monotonic() - started, 3))
"""


def run_poll_probe(library: Path, milliseconds: int, wall_poll_ms: str) -> tuple[str, float]:
    ready, waited = run_preloaded(
        library, POLL_PROBE, milliseconds, MAILSTORM_WALL_POLL_MS=wall_poll_ms
    )
    return ready, float(waited)


def test_the_wall_poll_waits_its_whole_timeout_and_times_out(library: Path) -> None:
    # The timeout that MAILSTORM_WALL_POLL_MS names goes to the kernel itself (ppoll); under a
    # warp it would otherwise be libfaketime's, divided by the speed-up (the container tests
    # start OpenSMTPD at x1440, which fails without it). Here: the arguments arrive intact.
    ready, waited = run_poll_probe(library, 300, "300")
    assert ready == "[]"
    assert waited >= 0.3


def test_any_other_poll_goes_to_the_next_library(library: Path) -> None:
    ready, waited = run_poll_probe(library, 200, "300")
    assert ready == "[]"
    assert waited >= 0.2
