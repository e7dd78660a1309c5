"""Running the compliance matrix: every scenario on every target, concurrently, into a `Matrix`.

Cases share containers, never next hops (`harness.cases`): each (target, tier) pair gets one MTA
container, except scenarios that hold a delivery process (blackholes, stalls), which get their
own (`harness.cases.grouping`); with `isolate`, and for a relay with one smarthost for all its
mail (`SenderTarget.single_smarthost`), every scenario gets its own. A run lasts about
as long as its longest scenario, not their sum.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.cases import Group, ObservedCase, not_applicable_reason, run_groups, sharing_sets
from harness.matrix.shards import Shard, shard_of
from harness.results import CaseResult, Matrix, TargetInfo
from harness.scenarios import Scenario, Tier
from harness.targets import SenderTarget, target_class

#: Default time scale per tier: fine keeps timeouts measurable, coarse fits days into minutes.
DEFAULT_TIME_SCALES: dict[Tier, float] = {Tier.FINE: 60.0, Tier.COARSE: 1440.0}


@dataclass(frozen=True)
class MatrixRun:
    """What to run and where to keep the evidence."""

    targets: Sequence[str]
    scenarios: Sequence[Scenario]
    work_dir: Path
    time_scales: dict[Tier, float] = field(default_factory=lambda: dict(DEFAULT_TIME_SCALES))
    run_id: str = ""
    progress: Callable[[str], None] = lambda line: None
    #: one container per scenario instead of per tier: slower, for showing that sharing a
    #: container does not change a verdict
    isolate: bool = False
    #: run only this shard's containers (harness.matrix.shards); None: all of them
    shard: Shard | None = None


def matrix_groups(run: MatrixRun) -> list[Group]:
    """The matrix's containers: one per (target, tier) and one per scenario that holds
    deliveries, or one per scenario when isolated."""
    groups: list[Group] = []
    for name in run.targets:
        # An MTA whose schedule is compiled in runs its stock configuration on a clock sped up
        # by the tier's scale (SenderTarget.warp_only); its log is kept, for the clock check.
        driver = target_class(name)
        warped = driver.warp_only
        for tier in Tier:
            scenarios = [s for s in run.scenarios if s.tier is tier]
            if run.isolate or driver.single_smarthost:
                sets = _one_per_container(scenarios, driver)
            else:
                sets = sharing_sets(scenarios)
            groups += [
                Group(name, run.time_scales[tier], members, keep_logs=warped, clock_warp=warped)
                for members in sets
            ]
    return groups


def group_cost(group: Group) -> float:
    """What a container costs a shard: its cases, and one more for starting it."""
    return len(group.scenarios) + 1.0


def _one_per_container(
    scenarios: Sequence[Scenario], driver: type[SenderTarget]
) -> list[list[Scenario]]:
    """Every scenario in a container of its own, but those that do not apply to the target
    (never run: a relay's DNS/MX scenarios) ride along with the first: a container started
    for nothing but cells that say "n/a" would be wasted."""
    applies = {s.id: not_applicable_reason(driver, s) is None for s in scenarios}
    runnable = [[s] for s in scenarios if applies[s.id]]
    riders = [s for s in scenarios if not applies[s.id]]
    if not runnable:
        return [riders] if riders else []
    runnable[0] += riders
    return runnable


def run_matrix(run: MatrixRun) -> Matrix:
    """Run every case (of the run's shard) and return the matrix; containers and receivers are
    gone afterwards."""
    groups = shard_of(matrix_groups(run), run.shard, cost=group_cost)
    observed, targets = run_groups(groups, run.work_dir, run.progress)
    return Matrix(
        run_id=run.run_id,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        targets=_target_infos(targets),
        cases=tuple(_order(observed, run)),
    )


def _target_infos(targets: list[SenderTarget]) -> tuple[TargetInfo, ...]:
    infos: dict[str, TargetInfo] = {}
    for target in targets:
        known = infos.get(target.name)
        if known and target.time_scale in known.time_scales:
            continue  # another container of the same tier (isolated runs)
        scales = (*known.time_scales, target.time_scale) if known else (target.time_scale,)
        parameters = (
            (*known.parameters, *_parameters(target)) if known else tuple(_parameters(target))
        )
        infos[target.name] = TargetInfo(
            target.name, target.version, target.package_version, scales, parameters
        )
    return tuple(infos.values())


def _parameters(target: SenderTarget) -> list[dict[str, object]]:
    return [
        {"time_scale": target.time_scale, **parameter}
        for parameter in target.describe()["parameters"]
    ]


def _order(cases: list[ObservedCase], run: MatrixRun) -> list[CaseResult]:
    rank = {scenario.id: position for position, scenario in enumerate(run.scenarios)}
    targets = {name: position for position, name in enumerate(run.targets)}
    ordered = sorted(cases, key=lambda c: (rank[c.scenario.id], targets[c.target.name]))
    return [case.result for case in ordered]
