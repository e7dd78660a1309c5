"""Retry schedules as a suite: per selected target, its stock schedule under a clock warp and
its scaled-config schedule, the RFC 5321 4.5.4.1 checks, and whether the two agree.

`pytest suites/test_schedules.py [--targets postfix,exim]` measures everything in one campaign
(about six minutes of wall time: k = 1440 observes up to seven real days) and writes
schedule.json/md/svg/png under reports/<run>-suite-schedule/. A deviation from the RFC is a
result about the MTA, recorded on the test; a schedule the harness could not measure, a warped
run whose clock was not consistent, or a disagreement that no distorted parameter explains,
fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.report import create_run_dir
from harness.report.schedule_reports import write_schedule_reports
from harness.results import Method, ScheduleResults
from harness.schedule import ScheduleRun, Variant, run_schedules
from harness.schedule.runner import default_clock_warps
from harness.targets import target_class

from .conftest import selected_targets

#: The scaled-config run the warp is compared with (the `mailstorm schedule` default's first).
SCALED = 1440.0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "schedule_target" in metafunc.fixturenames:
        metafunc.parametrize("schedule_target", selected_targets(metafunc.config))


@pytest.fixture(scope="session")
def schedule_results(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> ScheduleResults:
    targets = selected_targets(pytestconfig)
    warps = default_clock_warps(targets)
    results = run_schedules(
        ScheduleRun(
            targets=targets,
            variants=[Variant.REPLY_4XX],
            work_dir=tmp_path_factory.mktemp("schedule-journals"),
            time_scales=(SCALED,),
            clock_warps=warps,
        )
    )
    run_dir = create_run_dir(Path(pytestconfig.rootpath) / "reports", "suite-schedule")
    write_schedule_reports(results, run_dir)
    return results


@pytest.mark.docker
def test_schedule(
    schedule_results: ScheduleResults,
    schedule_target: str,
    record_property: Callable[[str, object], None],
) -> None:
    measured = [m for m in schedule_results.measured if m.target == schedule_target]
    assert measured, f"no schedule was measured for {schedule_target}"
    for m in measured:
        assert m.error is None, f"{m.method} x{m.time_scale:g}: {m.error}"
        assert m.schedule is not None
        label = f"{m.method} x{m.time_scale:g}"
        record_property(f"{label} attempts", len(m.schedule.attempts))
        record_property(f"{label} first retry", m.schedule.first_retry)
        record_property(f"{label} longest interval", m.schedule.longest_interval)
        record_property(f"{label} warning", m.schedule.warning)
        record_property(f"{label} give-up", m.schedule.give_up)
        for check in m.checks:
            record_property(f"{label} {check.clause}", f"{check.outcome.value}: {check.detail}")


@pytest.mark.docker
def test_clock_warp_agrees_with_scaled_config(
    schedule_results: ScheduleResults,
    schedule_target: str,
    record_property: Callable[[str, object], None],
) -> None:
    if target_class(schedule_target).default_warp_factor is None:
        pytest.skip(f"{schedule_target} cannot run under a clock warp")
    compared = [
        a
        for a in schedule_results.agreements
        if a.target == schedule_target and Method.CLOCK_WARP in a.methods
    ]
    assert compared, "the warped and the scaled-config schedule were not both measured"
    for agreement in compared:
        for metric in agreement.metrics:
            record_property(
                f"{' vs '.join(agreement.labels)} {metric.name}",
                f"{metric.values} tolerance {metric.tolerance:g} agrees={metric.agrees}",
            )
            assert metric.agrees or metric.explained_by, (
                f"{metric.name}: {metric.values} differ by more than {metric.tolerance:g}s "
                "and no distorted parameter explains it"
            )
