"""Clock warp: a stock MTA under one accelerated clock, and its times converted back.

Configuration scaling (`time_scaling.py`) divides an MTA's time settings by k, which distorts
whatever cannot take the divided value (whole seconds, hard-coded constants). Clock warp leaves
the configuration as shipped and speeds up the MTA's *clock* instead: libfaketime, preloaded into
every process of the MTA, makes `time()`, `gettimeofday()`, `sleep()`, `select()` and friends
run k times faster, and its shared-memory mode (`FAKETIME_SHARED`) gives all those processes one
clock, started once by the `faketime` wrapper, rather than one clock per `exec`. Details and
every failure mode found on the way: docs/clock-warp.md. What this module supplies:

- `launch_command`: how a target's daemon is started in the foreground under the wrapper (which
  must outlive the run: it owns the shared memory). The wrapper's segments are made readable to
  the MTA's unprivileged users before the daemon starts, the environment is written to
  `ENVIRONMENT_FILE` for later local submissions, and `LD_PRELOAD` names the library without a
  path: setuid/setgid programs (Exim, Postfix's postdrop) only preload a library from a trusted
  directory that has the setuid bit, which every image installs (`mailstorm-image-setup.sh`).
- `WarpedClock`: the fast clock's origin and factor, measured in the container, to convert the
  MTA's timestamps (logs, queue times) to real instants. fake = origin + (real - origin) * k.
- `warped_parameters`: what the stock settings amount to in wall time, and where libfaketime
  itself distorts (its `alarm()` keeps whole seconds: a 30-min timer at k = 1440 fires every
  24 min, and one under a wall second is cancelled). A target that sets `exact_alarm` preloads
  `EXACT_ALARM_LIBRARY` first, whose `alarm()` keeps the fraction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.errors import MailstormError
from harness.results import ScaledParameter
from harness.targets.time_scaling import TimeScaling

#: Written by the launcher once the shared clock exists; sourced by local submissions.
ENVIRONMENT_FILE = "/run/mailstorm-faketime.env"
#: Preloaded by name: the images' setuid copy in the multiarch library directory.
LIBRARY = "libfaketime.so.1"
#: alarm() to the microsecond on the fast clock, preloaded before LIBRARY by a target whose
#: timers libfaketime's whole-second alarm() would cancel (build_files/mailstorm-alarm.c).
EXACT_ALARM_LIBRARY = "libmailstorm-alarm.so"


class ClockWarpError(MailstormError):
    """The accelerated clock could not be set up, or the MTA did not run on it."""


@dataclass(frozen=True)
class WarpedClock:
    """The MTA's clock: `factor` times faster than the real one, equal to it at `origin`."""

    factor: float
    origin: float  #: Unix time (real) at which the fake clock read the same as the real one

    def to_fake(self, real: float) -> float:
        return self.origin + (real - self.origin) * self.factor

    def to_real(self, fake: float) -> float:
        return self.origin + (fake - self.origin) / self.factor

    def real_datetime(self, fake: datetime) -> datetime:
        """A timestamp the MTA wrote on its fast clock, as the real instant it was written."""
        return datetime.fromtimestamp(self.to_real(fake.timestamp()), UTC)

    @classmethod
    def from_readings(cls, factor: float, readings: Sequence[tuple[float, float]]) -> WarpedClock:
        """Solve for the origin from (real, fake) pairs: origin = (k*real - fake) / (k - 1).

        Each pair is a fake-clock reading in the container and the middle of the real interval
        around it; the caller passes its tightest ones. The pairs must also show the clock
        running k times faster, or the library is not in effect.
        """
        if factor <= 1:
            raise ClockWarpError(f"a clock warp factor must be > 1, got {factor:g}")
        if len(readings) < 2:
            raise ClockWarpError("need two readings of the fast clock")
        (real_a, fake_a), (real_b, fake_b) = readings[0], readings[-1]
        if real_b > real_a:
            speed = (fake_b - fake_a) / (real_b - real_a)
            if speed < factor / 2:
                raise ClockWarpError(
                    f"the container's clock ran x{speed:.3g}, not x{factor:g}: libfaketime is "
                    "not in effect"
                )
        origins = [(factor * real - fake) / (factor - 1) for real, fake in readings]
        return cls(factor, sum(origins) / len(origins))


def preload(exact_alarm: bool) -> str:
    """LD_PRELOAD for a warped MTA: libfaketime, after the exact alarm() when asked for (the
    first library that defines a symbol wins)."""
    return f"{EXACT_ALARM_LIBRARY}:{LIBRARY}" if exact_alarm else LIBRARY


def launch_command(
    factor: float,
    daemon: Sequence[str],
    *,
    exact_alarm: bool = False,
    environment: Mapping[str, str] = {},
) -> list[str]:
    """Run `daemon` (in the foreground) under one shared clock `factor` times faster; with
    `exact_alarm`, its alarm() timers keep their fractions of a wall second; `environment`
    is exported to it (the exact-alarm library's settings, `MAILSTORM_WALL_POLL_MS`)."""
    daemon_words = " ".join(_quote(word) for word in daemon)
    libraries = preload(exact_alarm)
    extra = "".join(f"{name}={_quote(value)} " for name, value in environment.items())
    script = (
        # The wrapper's segments are root's, mode 0600; Exim's processes run as Debian-exim.
        "chmod 0666 /dev/shm/faketime_shm_* /dev/shm/sem.faketime_sem_* && "
        f"export {extra}LD_PRELOAD={libraries} NO_FAKE_STAT=1 && "
        f"printf 'export LD_PRELOAD=%s NO_FAKE_STAT=1 FAKETIME=%s FAKETIME_SHARED=%s\\n' "
        f"{libraries} \"'$FAKETIME'\" \"'$FAKETIME_SHARED'\" > {ENVIRONMENT_FILE}.tmp && "
        # The same settings for local submissions, whose processes may deliver themselves.
        + "".join(
            f"printf 'export %s=%s\\n' {name} {_quote(value)} >> {ENVIRONMENT_FILE}.tmp && "
            for name, value in environment.items()
        )
        + f"mv {ENVIRONMENT_FILE}.tmp {ENVIRONMENT_FILE} && "
        f"exec {daemon_words}"
    )
    return ["faketime", "-f", f"+0 x{factor:g}", "sh", "-c", script]


def under_warp(command: str) -> str:
    """A shell command run on the shared fast clock (for local submission and clock readings)."""
    return f". {ENVIRONMENT_FILE} && {command}"


def warped_parameters(
    stock: TimeScaling, factor: float, alarm_parameters: Sequence[str] = ()
) -> TimeScaling:
    """The stock settings, as the wall time each takes under the fast clock.

    Every timer the MTA sets through `sleep`/`select`/`poll` shrinks exactly by k. Timers set
    with `alarm()` (named in `alarm_parameters`) keep whole seconds, at least 1, under
    libfaketime (it divides and truncates): that is a distortion, reported like a scaled
    setting's rounding.
    """
    parameters = []
    for p in stock.parameters:
        wall = p.default_seconds / factor
        note = ""
        if p.name in alarm_parameters and p.default_seconds and not wall.is_integer():
            note = f"alarm() under libfaketime: whole seconds, wanted {wall:.3g}s"
            wall = float(max(1, math.floor(wall)))
        parameters.append(ScaledParameter(p.name, p.default_seconds, wall, factor, note))
    return TimeScaling(factor, tuple(parameters))


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\"'\"'") + "'"
