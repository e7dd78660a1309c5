"""The case engine: scenarios on targets, all observed at once, each into a `CaseResult`.

The matrix and the schedule runner both run cases through it; they differ only in how they
group scenarios into containers and what they make of the evidence. Cases share containers,
never next hops: each group (the matrix: a target and tier) gets one MTA container, each
scenario in it gets its own receiver on its own port and its own domain, so no MTA's
per-destination state (Postfix's dead-host marks, Exim's retry database, both keyed with the
port) couples two scenarios. A scenario with MX hosts gets its own addresses instead, on port
25, on the group's MX site (network, harness DNS, connection log: `mx_site`). DSNs of a
container go to one accepting bounce receiver and are joined to their message by id. All cases
run at once and each ends when its recipients are settled (delivered or bounced) or its
observation time is up, so a run lasts about as long as
its longest scenario, not their sum.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from harness.cases.applicability import not_applicable_reason
from harness.cases.exercise import (
    held_behind_stalls,
    mx_exercise,
    not_exercised,
    refusal_exercise,
    rule_exercise,
    unused_extension,
)
from harness.cases.host_stalls import HostStallProbe
from harness.cases.mx_site import MxSite, start_mx_site
from harness.conformance import CheckInput, GiveUpWindow, RetryWindow, run_checks
from harness.containers import bridge_gateway, docker_client
from harness.errors import MailstormError
from harness.ledger import (
    CaseEvidence,
    Ledger,
    latency_timeouts,
    logged_attempts,
    target_warp_uncertainty,
    without_notice_sessions,
)
from harness.receiver import ACCEPT_ALL, ListenSpec, Receiver, Reply
from harness.results import CaseResult, DsnEvidence, FaultExercise, Outcome, empty_fates
from harness.scenarios import Scenario
from harness.targets import (
    BOUNCE_DOMAIN,
    CompressionArtifactError,
    Hop,
    LogRecord,
    QueuedMessage,
    RouteTable,
    SenderTarget,
    Submission,
    target_class,
)

POLL_INTERVAL = 0.5
#: Wall seconds between progress lines while cases run.
HEARTBEAT = 30.0
#: A step of the observation loop longer than this (wall seconds) is named in the progress: at
#: k = 1440 ten seconds are four real hours by which every due message waits.
SLOW_STEP = 10.0
#: A message sent later than this after its due time (real seconds: 30 real minutes) is named
#: in the progress, with the step that held it up; the cell records when it went (injected_t).
LATE_REAL = 1800.0
#: A single injection (a case's start, or its due messages) longer than this (wall seconds) is
#: named in the progress: every other due message waited for it.
SLOW_INJECTION = 3.0


@dataclass
class _Case:
    scenario: Scenario
    target: SenderTarget
    receiver: Receiver
    ledger: Ledger
    time_scale: float
    injections: list[float]  #: wall offsets from the campaign start, one per message
    started: float = 0.0  #: monotonic time of the first injection
    result: CaseResult | None = None
    evidence: CaseEvidence | None = None  #: what the result was made of; None on a harness error
    keep_logs: bool = False
    logs: tuple[LogRecord, ...] = ()  #: the target's log when the case ended, if kept
    sent: list[Submission] = field(default_factory=list)
    site: MxSite | None = None  #: the group's MX site, for a scenario that names MX hosts
    #: (message number, real seconds after its due time) of each message sent late (LATE_REAL)
    late: list[tuple[int, float]] = field(default_factory=list)
    #: injections into this case slower than SLOW_INJECTION, not yet reported
    slow: list[str] = field(default_factory=list)
    #: the run's wake-up lateness probe; a warped case's ± counts its worst stall
    stalls: HostStallProbe | None = None
    #: the longest wall time (s) the host kept a waiting process from the CPU during the case
    host_stall: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.scenario.id} on {self.target.name}"


@dataclass(frozen=True)
class Group:
    """Scenarios that share one container of one target, started at one time scale."""

    target: str
    time_scale: float
    scenarios: Sequence[Scenario]
    #: read the MTA's log when each case ends (the container is gone afterwards), for evidence
    #: only the log has, such as refused connections
    keep_logs: bool = False
    #: run the MTA's stock configuration on a clock `time_scale` times faster, instead of
    #: dividing its settings by it (harness/targets/clock_warp.py)
    clock_warp: bool = False


@dataclass(frozen=True)
class ObservedCase:
    """One finished case: its result, the evidence behind it, and the target it ran on.

    The target is stopped by then; its name, version and scaling stay readable.
    """

    scenario: Scenario
    target: SenderTarget
    time_scale: float
    result: CaseResult
    evidence: CaseEvidence | None  #: None when a harness error ended the case
    submissions: tuple[Submission, ...] = ()
    logs: tuple[LogRecord, ...] = ()  #: the MTA's log at the case's end, when its group kept it
    #: the longest wall time (s) the host kept a waiting process from the CPU during the case
    host_stall: float = 0.0


def observe_groups(
    groups: Sequence[Group], work_dir: Path, progress: Callable[[str], None] = lambda line: None
) -> list[ObservedCase]:
    """Start a container per group, run all their cases at once, and return them finished.

    The matrix and the schedule runner share this: what differs between them is only how they
    group scenarios and what they make of the evidence.
    """
    return run_groups(groups, work_dir, progress)[0]


def _observed(cases: Sequence[_Case]) -> list[ObservedCase]:
    return [
        ObservedCase(
            c.scenario,
            c.target,
            c.time_scale,
            c.result,
            c.evidence,
            tuple(c.sent),
            c.logs,
            c.host_stall,
        )
        for c in cases
        if c.result is not None
    ]


def run_groups(
    groups: Sequence[Group], work_dir: Path, progress: Callable[[str], None] = lambda line: None
) -> tuple[list[ObservedCase], list[SenderTarget]]:
    """Every group's finished cases (group by group, in order) and the targets they ran on.

    The targets are stopped by then; their names, versions and scaling stay readable.
    """
    per_group, targets = _run_groups(groups, work_dir, progress)
    return _observed([case for cases in per_group for case in cases]), targets


def _run_groups(
    groups: Sequence[Group], work_dir: Path, progress: Callable[[str], None]
) -> tuple[list[list[_Case]], list[SenderTarget]]:
    client = docker_client()
    try:
        gateway = bridge_gateway(client)
    finally:
        client.close()
    with ExitStack() as stack:
        stalls = stack.enter_context(HostStallProbe())
        per_group: list[list[_Case]] = []
        targets: list[SenderTarget] = []
        for group in groups:
            started, target = _start_group(stack, work_dir, progress, gateway, group, stalls)
            per_group.append(started)
            targets.append(target)
        _observe([case for cases in per_group for case in cases], progress)
        longest = stalls.longest()
        if longest:
            shown = ", ".join(
                f"{late * 1000:.0f} ms at {time.strftime('%H:%M:%S', time.localtime(due))}"
                for due, late in longest
            )
            progress(
                f"the host's longest stalls while cases ran (each case's ± counts its own "
                f"worst, x K): {shown}"
            )
    return per_group, targets


def _start_group(
    stack: ExitStack,
    work_dir: Path,
    progress: Callable[[str], None],
    gateway: str,
    group: Group,
    stalls: HostStallProbe,
) -> tuple[list[_Case], SenderTarget]:
    name, scale, scenarios = group.target, group.time_scale, group.scenarios
    mode = "warp" if group.clock_warp else "k"
    prefix = work_dir / f"{name}-{mode}{scale:g}-{scenarios[0].id}"
    bounces = stack.enter_context(
        Receiver(
            ACCEPT_ALL,
            listen=[f"{gateway}:0"],
            journal=f"{prefix}-bounces.sqlite",
            time_scale=scale,
        )
    )
    site: MxSite | None = None
    own_addresses = target_class(name).state_per_address
    # A relay to one smarthost looks up no MX, a sender of one message at a time never meets a
    # session limit: such cells say why and are not run (applicability.py).
    reasons = {s.id: not_applicable_reason(target_class(name), s) for s in scenarios}
    not_applicable = [s for s in scenarios if reasons[s.id] is not None]
    scenarios = [s for s in scenarios if s not in not_applicable]
    try:
        site = start_mx_site(stack, scenarios, scale, prefix, own_addresses=own_addresses)
    except MailstormError as error:
        # No MX site (no root for the addresses, port 53 taken on the gateway): the DNS/MX
        # cells are errors saying so, and the rest of the group runs.
        site_error: MailstormError | None = error
        progress(f"DNS/MX scenarios cannot run on {name}: {error}")
    else:
        site_error = None
    # A sender that needs an address per scenario does not run them on the shared gateway:
    # its neighbours' refusals would shape the cells (mx_site.py).
    unrunnable = [s for s in scenarios if (s.uses_dns or own_addresses) and site is None]
    scenarios = [s for s in scenarios if s not in unrunnable]
    receivers = {
        scenario.id: stack.enter_context(
            Receiver(
                scenario.plan,
                listen=_listen(site, scenario, gateway),
                journal=f"{prefix}-{scenario.id}.sqlite",
                time_scale=scale,
                refuse_until=scenario.refuse_until,
                refusals=site.refusals(scenario) if site and scenario.uses_dns else None,
                # plan time starts with the case's first message (`_inject_due` resets it)
                windows_from_reset=True,
            )
        )
        for scenario in scenarios
    }
    routes = {
        s.domain: [Hop(receivers[s.id].host, receivers[s.id].port)]
        for s in scenarios
        if not s.uses_dns
    }
    routes[BOUNCE_DOMAIN] = [Hop(bounces.host, bounces.port)]
    how = f"clock warp x{scale:g}" if group.clock_warp else f"time scale {scale:g}"
    progress(f"starting {name} ({how}) for {len(scenarios)} scenarios")
    target = stack.enter_context(
        target_class(name)(
            RouteTable.of(routes),
            time_scale=scale,
            clock_warp=group.clock_warp,
            resolver=site.resolver(scenarios) if site else None,
            network=site.network.name if site else None,
        )
    )
    progress(f"{name} {target.version} ready in {sum(target.timings.values()):.1f}s")
    cases = []
    queue = _QueueCache(target)
    for scenario in scenarios:
        receiver = receivers[scenario.id]
        ledger = Ledger(
            journal=receiver.journal_path,
            bounce_journal=bounces.journal_path,
            time_scale=scale,
            queue=queue,
        )
        step = scenario.spread / max(1, scenario.messages - 1) / scale
        injections = [step * n for n in range(scenario.messages)]
        cases.append(
            _Case(
                scenario,
                target,
                receiver,
                ledger,
                scale,
                injections,
                keep_logs=group.keep_logs,
                site=site if scenario.uses_dns else None,
                stalls=stalls,
            )
        )
    for scenario in unrunnable:
        # Never observed: its result is set now (the bounce receiver stands in for the one it
        # could not have; nothing reads it).
        case = _unobserved_case(scenario, target, bounces, scale)
        case.result = _error_result(case, site_error or MailstormError("no MX site"))
        cases.append(case)
    for scenario in not_applicable:
        case = _unobserved_case(scenario, target, bounces, scale)
        case.result = _unmeasured_result(case, not_applicable=reasons[scenario.id])
        cases.append(case)
    return cases, target


def _unobserved_case(
    scenario: Scenario, target: SenderTarget, bounces: Receiver, scale: float
) -> _Case:
    """A case that is never observed: its result is set at once (the bounce receiver stands in
    for the receiver it has not; nothing reads it)."""
    ledger = Ledger(
        journal=bounces.journal_path, bounce_journal=bounces.journal_path, time_scale=scale
    )
    return _Case(scenario, target, bounces, ledger, scale, [])


def _observe(cases: list[_Case], progress: Callable[[str], None]) -> None:
    """Inject on schedule, and finish each case when settled or when its time is up."""
    campaign_start = time.monotonic()
    next_heartbeat = campaign_start + HEARTBEAT
    # every case gets one progress line when it ends; the unrunnable ones ended before
    announced = [case for case in cases if case.result is not None]
    while any(case.result is None for case in cases):
        now = time.monotonic()
        if now >= next_heartbeat:
            next_heartbeat = now + HEARTBEAT
            running = [c for c in cases if c.result is None]
            ends = max(c.started + c.scenario.observe / c.time_scale for c in running) - now
            progress(f"{len(running)} case(s) still observing; all done within {ends / 60:.1f} min")
        for case in cases:
            if case.result is not None:
                continue
            # Every case's due messages go out before each case is read: a poll over hundreds
            # of cases takes seconds, and at k = 1440 a second is 24 minutes. Injecting only
            # on a case's own turn sent the second message of an outage replay hours late.
            step_start = time.monotonic()
            _inject_all_due(cases)
            injected = time.monotonic()
            _report_late(cases, progress, slow=injected - step_start)
            # Cases whose observation time is up are read before anyone else's turn: a read
            # that waits for its turn in a pass over hundreds of cases comes seconds late, hours
            # of MTA time at k = 1440, and what the MTA did meanwhile entered the cell (a
            # Haraka retry due an hour after a 96-hour window delivered in one run, bounced in
            # another, and stayed queued in a third).
            for overdue in _overdue(cases):
                # finishing many at once (after the first injection pass) takes a while:
                # the messages due meanwhile go out between them
                _inject_all_due(cases)
                _poll_safely(overdue)
            if case.result is None:
                _poll_safely(case)
            read = time.monotonic() - injected
            if read > SLOW_STEP:
                progress(f"slow step: reading {case.name} took {read:.0f}s (due messages waited)")
            # this case, or any other whose injection failed meanwhile (_inject_safely)
            for finished in [c for c in cases if c.result is not None and c not in announced]:
                announced.append(finished)
                assert finished.result is not None
                progress(
                    f"[{len(announced)}/{len(cases)}] {finished.name}: {finished.result.verdict} "
                    f"{_fate_summary(finished.result.fates)} "
                    f"({time.monotonic() - campaign_start:.0f}s)"
                )
        time.sleep(POLL_INTERVAL)


def _overdue(cases: Sequence[_Case]) -> list[_Case]:
    """The running cases whose observation time is up, the earliest deadline first."""
    now = time.monotonic()
    due = [
        case
        for case in cases
        if case.result is None
        and len(case.sent) >= case.scenario.messages
        and now >= _deadline(case)
    ]
    return sorted(due, key=_deadline)


def _deadline(case: _Case) -> float:
    """When the case's observation ends (monotonic seconds)."""
    return case.started + case.scenario.observe / case.time_scale


def _poll_safely(case: _Case) -> None:
    """`_poll`; a harness error ends the case as an error cell, not the run."""
    try:
        _poll(case)
    except MailstormError as error:
        case.result = _error_result(case, error)


def _report_late(cases: Sequence[_Case], progress: Callable[[str], None], *, slow: float) -> None:
    """Name each message just sent late (LATE_REAL), and the injection pass when it was slow:
    the evidence for finding what held the loop up."""
    if slow > SLOW_STEP:
        progress(f"slow step: injecting due messages took {slow:.0f}s")
    for case in cases:
        while case.slow:
            progress(f"slow injection: {case.slow.pop(0)}")
        while case.late:
            number, late_real = case.late.pop(0)
            progress(
                f"late injection: {case.name} message {number} went "
                f"{late_real / 3600:.1f} real h after its due time"
            )


def _poll(case: _Case) -> None:
    """Read the case once all its messages are out; finish it when settled or out of time."""
    if len(case.sent) < case.scenario.messages:
        return
    evidence = case.ledger.read(time.monotonic())
    deadline = _deadline(case)
    settled = case.scenario.settle and evidence.settled()
    if settled and case.receiver.open_sessions and time.monotonic() < deadline:
        # The message is stored before its 250 is sent and journalled: read once the
        # session has closed, or the attempt shows the reply before (354).
        return
    if settled or time.monotonic() >= deadline:
        # Read again, flushed: a session that closed after the read above (and before the
        # check) has its reply and its end in the journal only now. CI once caught the stale
        # read: a delivered attempt with no reply, cut short.
        _finish(case, _final_evidence(case))


def _final_evidence(case: _Case) -> CaseEvidence:
    """The evidence the case is judged on: everything the receiver did so far (its journal
    flushed), and for a DNS/MX case the connections and lookups beside the sessions. The polls
    before it read the journal alone: settling needs no more."""
    case.receiver.flush()
    evidence = case.ledger.read(time.monotonic())
    if case.site is None:
        return evidence
    connections, lookups = case.site.evidence(case.scenario, case.ledger)
    return dataclasses.replace(
        evidence,
        attempts=case.site.named(case.scenario, evidence.attempts),
        connections=connections,
        lookups=lookups,
    )


def _listen(site: MxSite | None, scenario: Scenario, gateway: str) -> list[ListenSpec] | list[str]:
    """Where the scenario's receiver listens: its MX hosts, its own address, or the gateway."""
    if site is not None and scenario.uses_dns:
        return site.listeners(scenario)
    own = site.own_listener(scenario) if site is not None else None
    return [own or f"{gateway}:0"]


def _finish(case: _Case, evidence: CaseEvidence) -> None:
    """The case's result, unless the compression shaped it: then it is an error, not a cell."""
    artifacts = case.target.compression_artifacts([s.message_id for s in case.sent])
    timeout = case.target.reply_timeout
    if case.target.clock_warp and timeout is not None:
        artifacts += latency_timeouts(
            case.ledger.journal_path, time_scale=case.time_scale, reply_timeout=timeout
        )
    if artifacts:
        raise CompressionArtifactError("; ".join(artifacts))
    if case.keep_logs or case.scenario.refuse_until is not None or case.target.clock_warp:
        case.logs = tuple(case.target.logs())
    if case.stalls is not None and case.sent:
        case.host_stall = case.stalls.worst_between(case.sent[0].wall, time.time())
    evidence = without_notice_sessions(evidence, case.logs, case.sent, case.time_scale)
    case.result, case.evidence = _result(case, evidence, _exercise(case, evidence)), evidence


def _exercise(case: _Case, evidence: CaseEvidence) -> tuple[FaultExercise, ...]:
    """How often each fault of the case fired (the receiver's rules; refusals from the log)."""
    injected = [case.ledger.real(s.mono) for s in case.sent]
    held = held_behind_stalls(case.scenario, evidence, injected)
    exercise = rule_exercise(case.scenario, evidence.rule_firings, held)
    if case.scenario.uses_dns:
        return (*exercise, *mx_exercise(case.scenario, evidence))
    if case.scenario.refuse_until is None:
        return exercise
    warped = case.target.clock_warp
    refusal = refusal_exercise(
        case.scenario,
        case.logs,
        case.sent,
        time_scale=case.time_scale,
        stamp_resolution=1 / case.time_scale if warped else 1.0,
    )
    return (*exercise, refusal)


def _error_result(case: _Case, error: Exception) -> CaseResult:
    """The case could not be measured: a harness error, shown as such in every report."""
    return _unmeasured_result(case, error=f"{type(error).__name__}: {error}")


def _unmeasured_result(
    case: _Case, *, error: str | None = None, not_applicable: str | None = None
) -> CaseResult:
    """A cell with no evidence: a harness error, or a scenario that does not apply."""
    return CaseResult(
        scenario=case.scenario.id,
        target=case.target.name,
        description=case.scenario.description,
        time_scale=case.time_scale,
        fates=empty_fates(),
        recipients=(),
        attempts=(),
        dsn=None,
        checks=(),
        error=error,
        not_applicable=not_applicable,
    )


class _QueueCache:
    """One queue listing per target per poll, shared by the target's cases."""

    def __init__(self, target: SenderTarget, ttl: float = POLL_INTERVAL) -> None:
        self.target = target
        self.ttl = ttl
        self._at = -1e9
        self._queue: list[QueuedMessage] = []

    def __call__(self) -> list[QueuedMessage]:
        if time.monotonic() - self._at > self.ttl:
            self._queue = self.target.queue()
            self._at = time.monotonic()
        return self._queue


def _inject_all_due(cases: Sequence[_Case]) -> None:
    """Hand every case its messages that are due now (a comparison per case when none is).

    A case that has not started gets its first message, which starts its clock; after each,
    the started cases' due messages go out before the next case starts. Starting hundreds of
    cases takes a minute (a submission is a `docker exec`), and at k = 1440 the second message
    of an outage replay falls due 60 s after its case started: started in one pass, the first
    cases' second messages waited for the pass to end (the reference of 385 cells sent Exim's
    second messages at 30.9 h instead of 24 h; `injected_t` showed it).

    The cases that send more than one message start last, after every single-message case:
    with ten columns the pass took three minutes, longer than an outage replay's two minutes of
    injections, and the third messages of the cases started early went out up to 27 s (10.7
    real hours) late, in the middle of the pass. Started last, their later messages fall due
    when no case is starting any more and only the polls run between them."""
    unstarted = [c for c in cases if c.result is None and not c.sent and c.injections]
    for case in sorted(unstarted, key=lambda c: len(c.injections) > 1):
        _inject_safely(case)
        _inject_started_due(cases)
    _inject_started_due(cases)


def _inject_started_due(cases: Sequence[_Case]) -> None:
    for case in cases:
        if case.result is None and case.sent and len(case.sent) < len(case.injections):
            _inject_safely(case)


def _inject_safely(case: _Case) -> None:
    began, starting = time.monotonic(), not case.sent
    try:
        _inject_due(case)
    except MailstormError as error:
        case.result = _error_result(case, error)
    took = time.monotonic() - began
    if took > SLOW_INJECTION:
        what = "starting" if starting else "sending the due messages of"
        case.slow.append(f"{what} {case.name} took {took:.1f}s")


def _inject_due(case: _Case) -> None:
    if not case.sent:
        # Plan time (outage windows, refusals) starts with this case's first message, not
        # with the campaign: injecting dozens of cases takes seconds, which at k = 1440 is hours.
        case.receiver.reset()
        if case.site is not None and case.site.dns is not None:
            case.site.dns.reset(origin=case.scenario.domain)
        case.started = time.monotonic()
    elapsed_wall = time.monotonic() - case.started
    while len(case.sent) < len(case.injections) and case.injections[len(case.sent)] <= elapsed_wall:
        recipients = [f"{local}@{case.scenario.domain}" for local in case.scenario.recipients]
        submission = case.target.submit(
            recipients, subject=f"mailstorm {case.scenario.id}", size=case.scenario.size
        )
        due = case.started + case.injections[len(case.sent)]
        late_real = (submission.mono - due) * case.time_scale
        if len(case.sent) > 0 and late_real > LATE_REAL:
            case.late.append((len(case.sent) + 1, late_real))
        case.sent.append(submission)
        case.ledger.add(submission)


def _result(case: _Case, evidence: CaseEvidence, exercise: tuple[FaultExercise, ...]) -> CaseResult:
    """The cell: the checks on the evidence, or an error when a fault never fired (then the
    evidence is kept, to show what the MTA met instead, but nothing is judged on it)."""
    scenario = case.scenario
    unexercised = not_exercised(exercise)
    codes = tuple(
        rule.action.outcome.code
        for rule in scenario.plan.rules
        if isinstance(rule.action.outcome, Reply) and rule.action.outcome.code >= 400
    )
    unused = unused_extension(scenario, evidence) if unexercised else None
    if unused is not None:
        # Not an error: the harness measured, and what it found is that the sender never
        # speaks the extension the fault is about (Postfix's client has no BDAT).
        unexercised = None
    uncertainty = _time_uncertainty(case, evidence)
    judged = CheckInput(
        evidence,
        codes,
        time_uncertainty=uncertainty or 0.0,
        retry_window=retry_window(case.target),
        give_up_window=give_up_window(case.target),
        mx_preferences={h.label: h.preference for h in scenario.mx if h.preference is not None},
    )
    checks = () if unexercised else run_checks(scenario.checks, judged)
    if unused is not None:
        checks = tuple(
            dataclasses.replace(c, outcome=Outcome.NOT_APPLICABLE, detail=unused, measured={})
            for c in checks
        )
    return CaseResult(
        scenario=scenario.id,
        target=case.target.name,
        description=scenario.description,
        time_scale=case.time_scale,
        fates=evidence.counts(),
        recipients=evidence.fates,
        attempts=evidence.attempts,
        dsn=_dsn_evidence(evidence),
        checks=checks,
        journal_excerpt=evidence.journal_excerpt,
        observed_for=evidence.observed_for,
        error=unexercised,
        exercise=exercise,
        time_uncertainty=uncertainty,
        connections=evidence.connections,
        lookups=evidence.lookups,
        fates_vary=scenario.fates_vary,
    )


def _time_uncertainty(case: _Case, evidence: CaseEvidence) -> float | None:
    """± real seconds on the times the MTA's retry clock decides in this case.

    Scaled configuration: k times the MTA's whole-second slack (`retry_uncertainty`). On the
    warped clock (an MTA whose schedule is compiled in runs so in the matrix too): the MTA's
    times are exact, and what moves them is the wall time each attempt costs, times K, measured
    in this case's own log against the receiver's sessions (`warp_uncertainty`, as for a
    schedule), the largest over its messages; a case none of whose sessions the MTA logged
    keeps the MTA's own whole second. A log that does not match the receiver's sessions means
    part of the MTA ran on another clock: the case is an error, not a cell.

    Either way the host's worst stall during the case (`host_stalls.py`), times the scale, is
    added: a process woken late does everything late, and its own log says it was on time."""
    target = case.target
    if not target.clock_warp:
        slack = target.retry_uncertainty()
        return None if slack is None else slack + case.time_scale * case.host_stall
    measured = [target.retry_clock_slack]
    for sent in case.sent:
        # the receiver's session times count from the case's first message: anchor there
        submission = dataclasses.replace(sent, wall=case.sent[0].wall)
        reached = [a for a in logged_attempts(case.logs, submission.sender) if a.reached_receiver]
        if not reached or not evidence.attempts:
            continue
        cost = target_warp_uncertainty(
            target, case.logs, submission, evidence, case.time_scale, case.host_stall
        )
        measured.append(cost or 0.0)
    return max(measured)


def retry_window(target: SenderTarget) -> RetryWindow | None:
    """The target's configured first-retry window for the interval checks (see RetryWindow)."""
    floor = target.stock_retry_floor()
    if floor is None:
        return None
    shortest, basis = floor
    window = target.first_retry_window()
    if window is None:
        return None
    earliest, latest = window
    return RetryWindow(shortest, target.retry_clock_slack, earliest, latest, basis)


def give_up_window(target: SenderTarget) -> GiveUpWindow | None:
    """The target's configured give-up window for `give-up-4d` (see GiveUpWindow)."""
    stock, window = target.stock_give_up(), target.give_up_window()
    if stock is None or window is None:
        return None
    return GiveUpWindow(stock[0], window[0], window[1], stock[1])


def _dsn_evidence(evidence: CaseEvidence) -> DsnEvidence | None:
    if not evidence.dsns:
        return None
    t, _, report = evidence.failure_dsn() or evidence.dsns[0]
    block = next((b for b in report.recipients if b.action == "failed"), None)
    block = block or (report.recipients[0] if report.recipients else None)
    return DsnEvidence(
        t=t,
        action=block.action if block else "",
        status=block.status if block else "",
        final_recipient=block.final_recipient if block else "",
        diagnostic_code=block.diagnostic_text if block else None,
        remote_reply_code=block.remote_reply_code if block else None,
        will_retry_until=block.will_retry_until.isoformat()
        if block and block.will_retry_until
        else None,
        well_formed=report.well_formed,
        problems=report.problems,
    )


def _fate_summary(fates: dict[str, int]) -> str:
    return ", ".join(f"{count} {fate}" for fate, count in fates.items() if count) or "no fate"
