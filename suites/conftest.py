"""The conformance suites' campaign: every selected scenario on every selected target, run once.

All cases run concurrently in one campaign (a run lasts as long as its longest scenario, not
the sum), then each test reports one case. Run these suites without xdist: each worker would run
its own whole campaign. Reports are written like `mailstorm matrix` does, under
`--mailstorm-reports` (default: reports/).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.main_job import MainJob, run_main_job
from harness.results import Matrix
from harness.scenarios import Scenario, load_catalogue, select
from harness.targets import chosen_targets


def selected_targets(config: pytest.Config) -> list[str]:
    return chosen_targets(
        config.getoption("mailstorm_targets"), config.getoption("mailstorm_target_dirs") or []
    )


def selected_scenarios(config: pytest.Config) -> list[Scenario]:
    value = config.getoption("mailstorm_scenarios")
    catalogue = load_catalogue()
    return select(catalogue, [v.strip() for v in value.split(",")]) if value else catalogue


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if {"scenario_id", "target"} <= set(metafunc.fixturenames):
        cases = [
            (scenario.id, target)
            for scenario in selected_scenarios(metafunc.config)
            for target in selected_targets(metafunc.config)
        ]
        metafunc.parametrize(("scenario_id", "target"), cases, ids=[f"{s}-{t}" for s, t in cases])


@pytest.fixture(scope="session")
def conformance_matrix(pytestconfig: pytest.Config) -> Matrix:
    """The whole main job, as `mailstorm matrix` runs it: the same `matrix.json`, schedules too."""
    result = run_main_job(
        MainJob(
            targets=selected_targets(pytestconfig),
            scenarios=selected_scenarios(pytestconfig),
            reports=Path(pytestconfig.rootpath) / "reports",
            run_kind="suites",
        )
    )
    return result.matrix
