"""The conformance suites' campaign: every selected scenario on every selected target, run once.

All cases run concurrently in one campaign (a run lasts as long as its longest scenario, not
the sum), then each test reports one case. Run these suites without xdist: each worker would run
its own whole campaign. Reports are written like `mailstorm matrix` does, under
`--mailstorm-reports` (default: reports/).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.matrix import MatrixRun, run_matrix
from harness.report import create_run_dir
from harness.report.model import Matrix
from harness.report.writer import write_reports
from harness.scenarios import Scenario, load_catalogue, select
from harness.targets import TARGETS, parse_target_list


def selected_targets(config: pytest.Config) -> list[str]:
    value = config.getoption("mailstorm_targets")
    return parse_target_list(value) if value else list(TARGETS)


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
def conformance_matrix(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Matrix:
    run_dir = create_run_dir(Path(pytestconfig.rootpath) / "reports", "suites")
    matrix = run_matrix(
        MatrixRun(
            targets=selected_targets(pytestconfig),
            scenarios=selected_scenarios(pytestconfig),
            work_dir=tmp_path_factory.mktemp("journals"),
            run_id=run_dir.name,
        )
    )
    write_reports(matrix, run_dir)
    return matrix
