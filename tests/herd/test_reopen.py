"""The reopen experiment: real Postfix and Exim queue mail through an outage, then the receiver
reopens fully or with admission control, and the herd is measured beside the model."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import pytest

from harness.cli import herd_reopen_command
from harness.errors import MailstormError
from harness.herd.reopen.experiment import (
    ReopenExperiment,
    ReopenResults,
    injection_schedule,
    run_reopen,
)
from harness.herd.reopen.measure import SessionSpan, peak_overlap
from harness.herd.reopen.model import predict_reopen, sender_classes
from harness.herd.reopen.plan import ADMISSION_REPLY, OutageVariant, Policy, receiver_schedule
from harness.herd.reopen.report import concurrency_steps, write_reopen_reports
from harness.herd.reopen.senders import SenderMix, SenderMixError
from harness.receiver import Reply, Stage

CAPACITY = 1


@pytest.fixture(scope="module")
def reopened(tmp_path_factory: pytest.TempPathFactory) -> ReopenResults:
    """One small real run, both policies side by side: 1 Postfix + 1 Exim each, a 30-minute
    4xx outage at k = 60 (30 s of wall time), 10 messages per sender, C = 1."""
    experiment = ReopenExperiment(
        SenderMix.parse("postfix=1,exim=1"),
        tmp_path_factory.mktemp("reopen"),
        outage=1800.0,
        variant=OutageVariant.REPLY_4XX,
        time_scale=60.0,
        capacity=CAPACITY,
        messages_per_sender=10,
        observe=3 * 3600.0,
        settle=300.0,
    )
    return run_reopen(experiment)


@pytest.mark.docker
@pytest.mark.slow
def test_every_message_is_delivered_once_or_accounted_for(reopened: ReopenResults) -> None:
    assert [p.policy for p in reopened.policies] == [Policy.OPEN, Policy.ADMISSION]
    for result in reopened.policies:
        m = result.measurement
        assert m.injected == 20
        assert m.injected_late == 0
        assert m.accepted_before_reopen == 0, "the 4xx outage let a message through"
        assert m.duplicates == ()
        assert m.lost == 0
        assert m.delivered + m.still_queued == m.injected
        assert {(s.sender, s.mta, s.injected) for s in m.senders} == {
            ("postfix-1", "postfix", 10),
            ("exim-1", "exim", 10),
        }
    open_run = reopened.policies[0].measurement
    assert open_run.delivered == open_run.injected
    assert open_run.drain_time is not None
    assert open_run.drain_time > 0


@pytest.mark.docker
@pytest.mark.slow
def test_admission_never_serves_more_than_c_while_open_bursts_above_it(
    reopened: ReopenResults,
) -> None:
    open_run, admission = (p.measurement for p in reopened.policies)
    assert open_run.peak_served > CAPACITY, "no herd: the open policy never exceeded C"
    assert open_run.refused_sessions == 0
    assert admission.peak_served <= CAPACITY
    assert admission.refused_sessions > 0, "admission control never had to refuse"
    # The same from the journal itself, not from the measurement's own arithmetic: every
    # session greeted with 220 after the reopening, and none overlapping C others.
    journal = reopened.experiment.work_dir / "reopen-admission.sqlite"
    with sqlite3.connect(journal) as db:
        greeted = db.execute(
            "SELECT COUNT(*) FROM events WHERE kind = 'reply' AND text LIKE '421 %'"
        ).fetchone()[0]
    assert greeted == admission.refused_sessions


@pytest.mark.docker
@pytest.mark.slow
def test_report_puts_the_measured_curve_beside_the_model(
    reopened: ReopenResults, tmp_path: Path
) -> None:
    paths = write_reopen_reports(reopened, tmp_path)
    assert {kind: path.is_file() and path.stat().st_size > 0 for kind, path in paths.items()} == {
        "json": True,
        "md": True,
        "png": True,
        "svg": True,
    }
    document = json.loads(paths["json"].read_text())
    assert document["format"] == "mailstorm-herd-reopen/1"
    for policy in document["policies"]:
        assert sum(policy["measured"]["curve"]["accepted"]) >= policy["measured"]["delivered"]
        assert policy["model"]["backlog_at_reopening"] == pytest.approx(20)
        assert not any("CHECK FAILED" in note for note in policy["model"]["notes"])
        # The outage answers 451 to RCPT, which Exim keys on the address, not the host.
        assert any(
            "exim documented, retry state per message" in n for n in policy["model"]["notes"]
        )
        assert {p["mta"]: p["model_anchor"] for p in policy["phases"]} == {
            "postfix": "message",
            "exim": "message",
        }
    markdown = paths["md"].read_text()
    assert "open measured" in markdown
    assert "admission model" in markdown


@pytest.mark.docker
@pytest.mark.slow
def test_the_run_measures_what_each_sender_container_cost(reopened: ReopenResults) -> None:
    machine = reopened.machine
    assert machine is not None
    assert machine.containers == 4  # 1 Postfix + 1 Exim per policy
    for cost in machine.costs:
        assert cost.sampled == 2, f"{cost.mta}: a container was never sampled"
        assert cost.peak_memory is not None
        # An MTA with its queue manager and a few queued messages: more than a megabyte, far
        # less than a gigabyte (a cgroup that also counted the page cache would be far more).
        assert 1 * 2**20 < cost.peak_memory < 2**30
        assert cost.outage_cpu is not None
        assert cost.outage_cpu > 0, f"{cost.mta}: queueing through the outage took no CPU?"
        assert cost.herd_cpu is not None
    assert machine.memory_bound is not None
    assert machine.memory_bound > machine.containers
    assert machine.host_busy_outage is not None


@pytest.mark.docker
@pytest.mark.slow
def test_phase_puts_each_mtas_first_delivery_beside_its_retry_cycles(
    reopened: ReopenResults,
) -> None:
    for result in reopened.policies:
        for load in result.measurement.senders:
            # A 30-minute 4xx outage: Postfix retries after 5 min, Exim at its 30-min queue
            # runs after 15 min: at least one retry each before the reopening.
            assert load.outage_connections >= 2, f"{load.sender}: no retry in the outage"
            assert load.first_accepted is not None
            assert load.last_accepted is not None
            assert 0 <= load.first_accepted <= load.last_accepted


# -- without containers ------------------------------------------------------------------------


def test_sender_mix_parses_and_rejects_clearly() -> None:
    mix = SenderMix.parse("postfix=2, exim=1")
    assert mix.labels() == [("postfix-1", "postfix"), ("postfix-2", "postfix"), ("exim-1", "exim")]
    assert str(mix) == "postfix=2,exim=1"
    assert mix.total == 3
    for text, message in [
        ("postfix", "not NAME=COUNT"),
        ("qmail=1", "unknown target"),
        ("postfix=0", "no sender"),
        ("postfix=1,postfix=2", "named twice"),
    ]:
        with pytest.raises(SenderMixError, match=message):
            SenderMix.parse(text)


def test_admission_applies_only_after_the_outage() -> None:
    schedule = receiver_schedule(OutageVariant.REPLY_4XX, Policy.ADMISSION, outage=7200, capacity=4)
    outage, admission = schedule.plan.rules
    assert outage.match.stages == frozenset({Stage.RCPT})
    assert outage.match.before == 7200
    assert admission.match.after == 7200
    assert admission.match.sessions_above == 4
    assert isinstance(admission.action.outcome, Reply)
    assert admission.action.outcome.code == int(ADMISSION_REPLY[:3])
    refused = receiver_schedule(OutageVariant.REFUSED, Policy.OPEN, outage=60, capacity=1)
    assert refused.plan.rules == ()
    assert refused.refuse_until == 60


def test_injection_is_steady_and_inside_the_outage() -> None:
    due = injection_schedule(senders=2, messages=3, outage_wall=60.0)
    assert [(d.offset, d.position, d.number) for d in due] == [
        (0.0, 0, 0),
        (10.0, 1, 0),
        (20.0, 0, 1),
        (30.0, 1, 1),
        (40.0, 0, 2),
        (50.0, 1, 2),
    ]


def test_concurrency_counts_a_close_before_the_next_open() -> None:
    spans = [SessionSpan("a", 0, 10, "220"), SessionSpan("a", 10, 20, "220")]
    assert peak_overlap(spans) == 1
    assert peak_overlap([*spans, SessionSpan("b", 5, 15, "220")]) == 2
    assert peak_overlap([SessionSpan("a", -10, -5, "220")], since=0) == 0
    assert concurrency_steps(spans, until=30) == ([0, 10, 20, 30], [1, 1, 0, 0])


def test_model_conserves_the_backlog_without_new_mail() -> None:
    for policy in Policy:
        curve = predict_reopen(
            classes=sender_classes(SenderMix.parse("postfix=2,exim=2")),
            outage=7200,
            messages=80,
            policy=policy,
            capacity_sessions=4,
            session_seconds=3.0,
            bin_seconds=300,
        )
        assert curve.backlog_at_reopening == pytest.approx(80)
        assert not any("CHECK FAILED" in note for note in curve.notes)
        assert sum(curve.accepted) * 300 == pytest.approx(80)


def _reopen_command(arguments: list[str]) -> argparse.Namespace:
    """The `herd reopen` subcommand's own parser (the whole CLI imports every subcommand)."""
    parser = argparse.ArgumentParser(prog="mailstorm herd")
    herd_reopen_command.register(parser.add_subparsers(required=True))
    return parser.parse_args(["reopen", *arguments])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--senders", "qmail=1"], "unknown target"),
        (["--outage", "soon"], "--outage: 'soon' is not a duration"),
        (["--outage", "0s"], "--outage '0s': must be longer than 0"),
        (["--time-scale", "0"], "--time-scale 0: K must be > 0"),
        (["--capacity", "0"], "the capacity must be >= 1 session"),
        (["--messages", "0"], "inject at least 1 message per sender"),
        (["--schedules", "/nonexistent/schedule.json"], "schedule.json: no such file"),
        (["--senders", "msmtp=1"], "no documented class for 'msmtp'"),
    ],
)
def test_bad_input_is_a_one_line_error(arguments: list[str], message: str, tmp_path: Path) -> None:
    parsed = _reopen_command([*arguments, "--reports", str(tmp_path)])
    with pytest.raises(MailstormError) as caught:
        parsed.run(parsed)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == [], "no run directory for a run that never started"
