"""The main job in one call: the compliance matrix, then the retry schedules, then the reports,
the reference copy and the baseline comparison.

`mailstorm matrix` and the conformance suites (`suites/`) both call `run_main_job`, so a run
from either writes the same `matrix.json`. The CLI only parses arguments and prints what this
returns; progress lines go to the `progress` callback as they happen.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.matrix import (
    DEFAULT_TIME_SCALES,
    MatrixRun,
    Shard,
    merge_shards,
    read_shard,
    run_matrix,
    shard_of,
)
from harness.report import (
    Baseline,
    Difference,
    compare,
    create_run_dir,
    write_baseline,
    write_reports,
)
from harness.report.schedule_reports import write_schedule_reports
from harness.results import (
    MATRIX_JSON,
    SCHEDULE_JSON,
    Matrix,
    ScheduleResults,
    attach_schedules,
    read_schedule_json,
)
from harness.scenarios import Scenario, Tier
from harness.schedule import ScheduleRun, Variant, run_schedules
from harness.schedule.runner import WARPS_AT_ONCE, default_clock_warps

#: How often the main job measures each schedule: two draws of each phase-dependent value, so
#: no report presents one draw as the MTA's behaviour, at about three more minutes.
DEFAULT_SCHEDULE_REPEATS = 2
#: Where the committed reference results of the bundled targets live, from the working directory.
REFERENCE_DIR = Path("reports/reference")


@dataclass(frozen=True)
class MainJob:
    """What to run and where its reports go."""

    targets: Sequence[str]
    scenarios: Sequence[Scenario]
    reports: Path = Path("reports")
    time_scales: Mapping[Tier, float] = field(default_factory=lambda: dict(DEFAULT_TIME_SCALES))
    #: measure each target's stock retry schedule under a clock warp after the matrix
    measure_schedules: bool = True
    #: take the schedules from this `schedule.json` instead of measuring them
    schedules_file: Path | None = None
    #: measure the schedules this many times, one run after another: each is another draw of
    #: the queue runners' phases, and the reports show min-max beside the schedule
    schedule_repeats: int = DEFAULT_SCHEDULE_REPEATS
    baseline: Baseline | Matrix | None = None
    write_baseline: Path | None = None
    #: copy matrix.md/json, the schedules and a baseline there (the committed reference)
    reference_dir: Path | None = None
    isolate: bool = False
    #: the run directory is `<reports>/<time>-<run_kind>`
    run_kind: str = "matrix"
    #: run only this shard's containers and schedules (`mailstorm matrix merge` joins them)
    shard: Shard | None = None
    progress: Callable[[str], None] = lambda line: None


@dataclass(frozen=True)
class MainJobResult:
    """What the run found and wrote."""

    matrix: Matrix
    run_dir: Path
    written: dict[str, Path]
    schedules: ScheduleResults | None  #: the measured or read schedules, if any
    differences: tuple[Difference, ...] | None  #: from the baseline; None without one
    minutes: float  #: wall time of the whole run

    @property
    def verdicts(self) -> dict[str, int]:
        """How many cases ended in each verdict."""
        counts: dict[str, int] = {}
        for case in self.matrix.cases:
            counts[case.verdict] = counts.get(case.verdict, 0) + 1
        return counts

    @property
    def schedule_errors(self) -> list[str]:
        """Each schedule measurement that ended in a harness error, as one line."""
        if self.schedules is None:
            return []
        return [
            f"{m.target} {m.method.label(m.time_scale)} run {m.repeat + 1}: {m.error}"
            for m in self.schedules.measured
            if m.error
        ]

    @property
    def failed(self) -> bool:
        """A harness error in a case or in a schedule measurement, or a difference from the
        baseline."""
        return bool(self.verdicts.get("error") or self.schedule_errors or self.differences)


def run_main_job(job: MainJob) -> MainJobResult:
    """Run the matrix, then the schedules, and write every report; containers are gone after."""
    read = read_schedule_json(job.schedules_file) if job.schedules_file else None
    run_dir = create_run_dir(job.reports, job.run_kind)
    started = time.monotonic()
    measure = job.measure_schedules and read is None
    with tempfile.TemporaryDirectory(prefix="mailstorm-matrix-") as work:
        matrix = run_matrix(
            MatrixRun(
                targets=job.targets,
                scenarios=job.scenarios,
                work_dir=Path(work),
                time_scales=dict(job.time_scales),
                run_id=run_dir.name,
                progress=job.progress,
                isolate=job.isolate,
                shard=job.shard,
            )
        )
        measured = _measure_schedules(job, Path(work)) if measure else None
    if measured is not None:
        write_schedule_reports(measured, run_dir)
    schedules = measured or read
    if schedules is not None:
        matrix = attach_schedules(matrix, schedules.measured)
    return _reported(matrix, run_dir, schedules, job, started)


def _reported(
    matrix: Matrix,
    run_dir: Path,
    schedules: ScheduleResults | None,
    job: MainJob | MergeJob,
    started: float,
) -> MainJobResult:
    """The matrix's reports, the reference copy and the baseline written as `job` asks, and
    its differences from the baseline: the same for one run and for merged shards."""
    written = write_reports(matrix, run_dir)
    if job.reference_dir is not None:
        _update_reference(matrix, run_dir, job.reference_dir)
    if job.write_baseline is not None:
        written["baseline"] = write_baseline(matrix, job.write_baseline)
    differences = None if job.baseline is None else tuple(compare(job.baseline, matrix))
    return MainJobResult(
        matrix=matrix,
        run_dir=run_dir,
        written=written,
        schedules=schedules,
        differences=differences,
        minutes=(time.monotonic() - started) / 60,
    )


def _measure_schedules(job: MainJob, work: Path) -> ScheduleResults | None:
    """Each target's stock schedule against 451 at RCPT, under its own clock warp.

    After the matrix, not alongside it: the warped MTAs churn processes (a queue scan every
    0.1 s of wall time), and that load shifted a borderline coarse case (a 120-hour outage on
    Postfix, whose 5-day lifetime equalled it; the scenario is 132 hours now).
    """
    every = default_clock_warps(job.targets)
    # a shard measures the schedules of its share of the targets (five warped days each)
    warps = {
        t: every[t] for t in shard_of(list(every), job.shard, cost=lambda t: 5 * 86400 / every[t])
    }
    if not warps:
        return None
    batches, runs = -(-len(warps) // WARPS_AT_ONCE), job.schedule_repeats
    job.progress(
        "retry schedules, stock configuration under a clock warp: "
        + ", ".join(f"{t} x{k:g}" for t, k in warps.items())
        + f" (about {max(5 * 86400 / k for k in warps.values()) / 60 * batches * runs:.0f} min"
        + (f", {WARPS_AT_ONCE} targets at a time" if batches > 1 else "")
        + (f", {job.schedule_repeats} runs one after another)" if job.schedule_repeats > 1 else ")")
    )
    run = ScheduleRun(
        targets=list(warps),
        variants=[Variant.REPLY_4XX],
        work_dir=work,
        time_scales=(),
        clock_warps=warps,
        progress=job.progress,
        repeats=job.schedule_repeats,
    )
    return run_schedules(run)


def _update_reference(matrix: Matrix, run_dir: Path, reference: Path) -> None:
    """Copy the reports worth committing; each target's schedule plot by the name the writer
    gave it (`schedule-postfix_bookworm.png` for `postfix@bookworm`)."""
    reference.mkdir(parents=True, exist_ok=True)
    names = ("matrix.md", MATRIX_JSON, SCHEDULE_JSON, "schedule.md")
    plots = sorted(p.name for p in run_dir.glob("schedule-*.png"))
    for name in (*names, *plots):
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, reference / name)
    write_baseline(matrix, reference / "baseline.json")


@dataclass(frozen=True)
class MergeJob:
    """Join shards' results into one matrix and report it as one run would."""

    parts: Sequence[Path]
    reports: Path = Path("reports")
    scenario_order: Sequence[str] = ()
    target_order: Sequence[str] = ()
    baseline: Baseline | Matrix | None = None
    write_baseline: Path | None = None
    reference_dir: Path | None = None


def run_merge_job(job: MergeJob) -> MainJobResult:
    """The merged matrix's reports, reference copy and baseline comparison: after the merge,
    so a regression in any shard fails the merged run."""
    started = time.monotonic()
    matrix, schedules = merge_shards(
        [read_shard(p) for p in job.parts], job.scenario_order, job.target_order
    )
    run_dir = create_run_dir(job.reports, "matrix-merged")
    if schedules is not None:
        write_schedule_reports(schedules, run_dir)
    return _reported(matrix, run_dir, schedules, job, started)
