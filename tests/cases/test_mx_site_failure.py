"""A group whose MX site cannot be set up: its DNS/MX cells are errors that say why, and the
rest of the group runs. The failure here is real and cheap: more MX hosts than one network
holds (the same path as no root for the addresses, or port 53 taken on the gateway)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.containers.mx_network import MAX_HOSTS
from harness.matrix import MatrixRun, run_matrix
from harness.scenarios import Tier, load_catalogue, parse_scenario, select

TOO_MANY_HOSTS = (
    '[scenario]\nid = "too-many-mx"\nkind = "dns"\nchecks = ["mx-hosts-tried"]\n'
    + "".join(f'[[mx]]\nhost = "mx{n}"\npreference = {n}\n' for n in range(MAX_HOSTS + 1))
)


@pytest.mark.docker
def test_dns_cells_are_errors_and_the_rest_runs(tmp_path: Path) -> None:
    scenarios = [*select(load_catalogue(), ["rcpt-550"]), parse_scenario(TOO_MANY_HOSTS)]
    run = MatrixRun(["postfix"], scenarios, tmp_path, {Tier.FINE: 60.0})
    cases = {case.scenario: case for case in run_matrix(run).cases}
    assert cases["rcpt-550"].error is None, cases["rcpt-550"].error
    assert cases["rcpt-550"].fates["bounced"] == 1
    error = cases["too-many-mx"].error or ""
    assert f"{MAX_HOSTS + 1} MX hosts: at most {MAX_HOSTS} per network" in error, error
    assert cases["too-many-mx"].verdict == "error"
