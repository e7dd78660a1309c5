"""Which containers a matrix and a schedule run start, by target (no container is started).

A target that shares one (Postfix) gets one per tier, plus one per scenario that holds its
deliveries. A relay with one smarthost for all its mail (nullmailer) cannot share one: each
scenario needs its own receiver as the smarthost, so each runnable scenario gets a container,
and the scenarios that do not apply to it (DNS/MX, session limits), never run, ride along with
the first rather than start more.
"""

from __future__ import annotations

from pathlib import Path

from harness.cases.applicability import not_applicable_reason
from harness.matrix import MatrixRun, matrix_groups
from harness.scenarios import load_catalogue
from harness.schedule import ScheduleRun, Variant
from harness.schedule.runner import schedule_groups
from harness.targets import target_class


def groups_of(target: str, tmp_path: Path) -> list[list[str]]:
    run = MatrixRun(targets=[target], scenarios=load_catalogue(), work_dir=tmp_path)
    return [[s.id for s in group.scenarios] for group in matrix_groups(run)]


def test_a_relay_with_one_smarthost_gets_a_container_per_scenario(tmp_path: Path) -> None:
    catalogue = load_catalogue()
    groups = groups_of("nullmailer", tmp_path)
    never_run = [s.id for s in catalogue if s.uses_dns or s.limits_concurrent_sessions]
    assert "rate-limit-421" in never_run  # one message at a time: no session limit applies
    assert sorted(g[0] for g in groups) == sorted(s.id for s in catalogue if s.id not in never_run)
    riders = [s for g in groups for s in g[1:]]
    assert sorted(riders) == sorted(never_run)
    # every scenario exactly once
    assert sorted(s for g in groups for s in g) == sorted(s.id for s in catalogue)


def test_a_sender_with_a_transaction_per_recipient_skips_the_recipient_limits() -> None:
    """dma gives every recipient a transaction of its own: the "452 4.5.3 too many recipients"
    scenarios never fire on it and are n/a with its reason; the other senders run them."""
    limits = [s.id for s in load_catalogue() if s.limits_recipients_per_transaction]
    assert sorted(limits) == ["rcpt-452-too-many", "rcpt-452-too-many-no-pipelining"]
    for scenario in load_catalogue():
        reason = not_applicable_reason(target_class("dma"), scenario)
        if scenario.id in limits:
            assert reason is not None
            assert "transaction of its own" in reason
        assert not_applicable_reason(target_class("postfix"), scenario) is None


def test_a_sharing_target_gets_one_container_per_tier_and_per_blocking_scenario(
    tmp_path: Path,
) -> None:
    groups = groups_of("postfix", tmp_path)
    alone = [s.id for s in load_catalogue() if s.holds_deliveries]
    assert len(groups) == 2 + len(alone)  # fine and coarse tiers share one each


def test_a_dns_server_that_never_answers_holds_deliveries_and_runs_alone(tmp_path: Path) -> None:
    """The resolver's timeouts are wall time: an Exim queue run stood about 15 wall seconds on
    dns-timeout's lookups and its neighbours' first retries came 20 minutes late. A SERVFAIL or
    NXDOMAIN comes back at once and holds nothing."""
    catalogue = {s.id: s for s in load_catalogue()}
    assert catalogue["dns-timeout"].holds_deliveries
    assert not catalogue["dns-servfail"].holds_deliveries
    assert not catalogue["dns-nxdomain"].holds_deliveries
    assert ["dns-timeout"] in groups_of("exim", tmp_path)
    shared = max(groups_of("exim", tmp_path), key=len)
    assert "dns-servfail" in shared
    assert "rcpt-450" in shared


def test_a_schedule_run_gives_the_relay_a_receiver_per_variant(tmp_path: Path) -> None:
    run = ScheduleRun(
        targets=["nullmailer", "postfix"],
        variants=list(Variant),
        work_dir=tmp_path,
        clock_warps={"nullmailer": 2880.0},
    )
    groups = schedule_groups(run)
    relay = [[s.id for s in g.scenarios] for g in groups if g.target == "nullmailer"]
    assert sorted(relay) == sorted([f"schedule-{v.value}"] for v in Variant)
    assert all(g.clock_warp for g in groups if g.target == "nullmailer")
