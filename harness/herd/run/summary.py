"""The summary of a herd load run: our own numbers beside Locust's reports, and plots.

Read from a run directory after Locust has exited: each Locust process's record
(`herd-<role>-<index>.json`: counts, a once-a-second timeline, the shape's user counts),
Locust's `locust_stats.csv` (latency percentiles per phase) and `locust_failures.csv`
(failures by phase and code), and the embedded receiver's journal when there was one (its
counts must agree with ours, so the summary cannot claim what the receiver did not see).

Rates are wall-clock messages/s; with time factor F, one wall second stands for F real
seconds, and times are given in both.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HerdError
from harness.herd.run.curve import ArrivalCurve
from harness.receiver import Journal

PHASES = ("connect", "greeting", "ehlo", "mail", "rcpt", "data", "eod")
PERCENTILES = ("50%", "90%", "95%", "99%", "100%")
RATES_PLOT = "herd-rates.png"
BACKLOG_PLOT = "herd-backlog.png"
LATENCY_PLOT = "herd-latency.png"


class LoadSummaryError(HerdError):
    """A run directory lacks what the summary needs (Locust stopped before writing it)."""


@dataclass(frozen=True)
class PhaseLatency:
    phase: str
    requests: int
    failures: int
    average_ms: float
    percentiles_ms: dict[str, float]


@dataclass(frozen=True)
class FailureRow:
    phase: str
    error: str
    occurrences: int
    #: occurrences over sessions (connection attempts)
    rate: float


@dataclass
class LoadSummary:
    target: str
    curve: str
    time_factor: float
    volume: float
    processes: int
    stop_reason: str
    wall_seconds: float
    offered: int
    attempts: int
    delivered: int
    deferred: int
    bounced: int
    expired: int
    pending: int
    accepted_per_second: float
    peak_accepted_per_second: float
    deferral_rate: float
    attempts_per_delivered: float | None
    drained_wall: float | None
    latency: list[PhaseLatency]
    failures: list[FailureRow]
    by_class: dict[str, dict[str, int]]
    receiver: dict[str, Any] | None = None
    #: (wall second, offered/s, accepted/s, deferred/s, backlog, users)
    series: list[tuple[float, float, float, float, float, float]] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)

    @property
    def drained_real(self) -> float | None:
        return None if self.drained_wall is None else self.drained_wall * self.time_factor

    def record(self) -> dict[str, Any]:
        data = asdict(self)
        data["drained_real"] = self.drained_real
        return data

    def report(self) -> str:
        """The human-readable summary (Markdown-friendly plain text)."""
        f = self.time_factor
        lines = [
            f"herd run against {self.target}",
            f"curve: {self.curve}; time factor {f:g} (1 wall s = {f:g} real s), "
            f"volume {self.volume:g}; {self.processes} Locust process(es)",
            f"stopped: {self.stop_reason or 'unknown'} after {self.wall_seconds:.1f} s wall "
            f"({self.wall_seconds * f:.0f} s real)",
            f"messages: {self.offered} offered, {self.delivered} accepted, {self.bounced} "
            f"bounced (5xx), {self.expired} expired (past give-up), {self.pending} still queued",
            f"accepted: {self.accepted_per_second:.1f} msgs/s mean, "
            f"{self.peak_accepted_per_second:.0f} msgs/s peak (wall)",
            f"sessions: {self.attempts}; deferred {self.deferred} "
            f"({100 * self.deferral_rate:.1f}% of sessions); connection attempts per accepted "
            f"message: "
            + (f"{self.attempts_per_delivered:.2f}" if self.attempts_per_delivered else "n/a"),
            "backlog drained by: "
            + (
                f"{self.drained_wall:.1f} s wall ({self.drained_real:.0f} s real)"
                if self.drained_wall is not None
                else f"not drained ({self.pending} still queued at the end)"
            ),
        ]
        if self.receiver is not None:
            lines.append(
                f"receiver journal: {self.receiver['sessions']} sessions, "
                f"{self.receiver['messages']} messages accepted, "
                f"{self.receiver['refused_421']} refused with 421 at the greeting"
            )
            lines += client_lines(self.receiver.get("clients", {}))
        lines.append("")
        lines.append("failures by phase and code (share of sessions):")
        if not self.failures:
            lines.append("  none")
        for failure in self.failures:
            lines.append(
                f"  {failure.phase:<9}{failure.error:<24}{failure.occurrences:>8}  "
                f"{100 * failure.rate:6.2f}%"
            )
        lines.append("")
        header = "".join(f"{p:>8}" for p in PERCENTILES)
        lines.append(f"latency per phase (ms):  {'requests':>9}{'fails':>7}{'avg':>8}{header}")
        for row in self.latency:
            values = "".join(f"{row.percentiles_ms.get(p, math.nan):>8.0f}" for p in PERCENTILES)
            lines.append(
                f"  {row.phase:<22}{row.requests:>9}{row.failures:>7}{row.average_ms:>8.2f}{values}"
            )
        if self.by_class:
            lines.append("")
            lines.append("by sender class:")
            for name, counts in sorted(self.by_class.items()):
                parts = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
                lines.append(f"  {name}: {parts}")
        return "\n".join(lines)

    def write(self, run_dir: Path) -> None:
        self.plots = write_plots(self, run_dir)
        (run_dir / "summary.json").write_text(json.dumps(self.record(), indent=2) + "\n")
        clients = (self.receiver or {}).get("clients", {})
        if clients:  # the per-address view: what a receiver that throttles per IP saw
            rows = ["client,sessions,refused_421,messages"]
            rows += [
                f"{address},{row['sessions']},{row['refused_421']},{row['messages']}"
                for address, row in sorted(clients.items())
            ]
            (run_dir / "clients.csv").write_text("\n".join(rows) + "\n")
        plots = "".join(f"\n![{name}]({name})\n" for name in self.plots)
        (run_dir / "summary.md").write_text(
            f"# Herd load run\n\n```\n{self.report()}\n```\n{plots}"
        )


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(run_dir.glob("herd-*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as error:
            raise LoadSummaryError(f"{path}: unreadable record: {error}") from None
    if not records:
        raise LoadSummaryError(
            f"{run_dir}: no herd-*.json records (Locust stopped before writing them?)"
        )
    return records


def summarize(
    run_dir: Path,
    *,
    curve: ArrivalCurve,
    target: str,
    journal: Path | None = None,
) -> LoadSummary:
    records = read_records(run_dir)
    sources = [r["source"] for r in records if r.get("source")]
    if not sources:
        raise LoadSummaryError(f"{run_dir}: no process produced any load")
    settings = records[0]["settings"]
    time_factor = float(settings["time_factor"])

    def total(key: str) -> int:
        return sum(int(source[key]) for source in sources)

    offered, delivered, attempts = total("offered"), total("delivered"), total("attempts")
    bounced, expired, deferred = total("bounced"), total("expired"), total("deferred")
    start = min(float(source["started"]) for source in sources)
    ends = [float(s["last_settled"]) for s in sources if s.get("last_settled")]
    first = min((float(s["first_session"]) for s in sources if s.get("first_session")), default=0)
    active = max(ends) - first if ends and first else 0.0
    written = max(float(r["written"]) for r in records)
    drained = [s.get("drained_at") for s in sources]
    drained_wall = (
        max(float(d) + float(s["started"]) - start for d, s in zip(drained, sources, strict=True))
        if all(d is not None for d in drained)
        else None
    )
    by_class: dict[str, dict[str, int]] = {}
    for source in sources:
        for name, counts in source.get("by_class", {}).items():
            row = by_class.setdefault(name, {})
            for key, value in counts.items():
                row[key] = row.get(key, 0) + int(value)
    shape: list[dict[str, float]] = next((r["shape"] for r in records if r.get("shape")), [])
    shape_start = next(
        (float(r["started"]) for r in records if r.get("shape") and r.get("started")), start
    )
    series = _series(sources, start, shape, shape_start)
    stop_reason = next((r["stop_reason"] for r in records if r["role"] in ("local", "master")), "")
    return LoadSummary(
        target=target,
        curve=curve.description or curve.source,
        time_factor=time_factor,
        volume=float(settings["volume"]),
        processes=len(sources),
        stop_reason=stop_reason,
        wall_seconds=written - start,
        offered=offered,
        attempts=attempts,
        delivered=delivered,
        deferred=deferred,
        bounced=bounced,
        expired=expired,
        pending=offered - delivered - bounced - expired,
        accepted_per_second=delivered / active if active > 0 else 0.0,
        peak_accepted_per_second=max((row[2] for row in series), default=0.0),
        deferral_rate=deferred / attempts if attempts else 0.0,
        attempts_per_delivered=attempts / delivered if delivered else None,
        drained_wall=drained_wall,
        latency=read_latency(run_dir / "locust_stats.csv"),
        failures=read_failures(run_dir / "locust_failures.csv", attempts),
        by_class=by_class,
        receiver=journal_counts(journal) if journal is not None else None,
        series=series,
    )


def _series(
    sources: list[dict[str, Any]],
    start: float,
    shape: list[dict[str, float]],
    shape_start: float,
) -> list[tuple[float, float, float, float, float, float]]:
    """Per wall second since `start`: offered/s, accepted/s, deferred/s, backlog, users,
    summed over processes (each process's cumulative counts taken at its last sample)."""
    timelines = [
        [(float(p["wall"]) + float(s["started"]) - start, p) for p in s["timeline"]]
        for s in sources
    ]
    horizon = max((points[-1][0] for points in timelines if points), default=0.0)
    seconds = math.ceil(horizon)

    def at(points: list[tuple[float, dict[str, Any]]], t: float, key: str) -> float:
        value = 0.0
        for when, sample in points:
            if when > t + 1e-9:
                break
            value = float(sample[key])
        return value

    rows = []
    previous = {"offered": 0.0, "delivered": 0.0, "deferred": 0.0}
    for second in range(1, seconds + 1):
        now = {key: sum(at(points, second, key) for points in timelines) for key in previous}
        backlog = sum(at(points, second, "backlog") for points in timelines)
        users = 0.0
        for tick in shape:
            if float(tick["wall"]) + shape_start - start <= second:
                users = float(tick["users"])
        rows.append(
            (
                float(second),
                now["offered"] - previous["offered"],
                now["delivered"] - previous["delivered"],
                now["deferred"] - previous["deferred"],
                backlog,
                users,
            )
        )
        previous = now
    return rows


def read_latency(path: Path) -> list[PhaseLatency]:
    rows = _csv(path)
    latency = []
    by_name = {row["Name"]: row for row in rows if row.get("Type") == "SMTP"}
    for phase in PHASES:
        row = by_name.get(phase)
        if row is None:
            continue
        latency.append(
            PhaseLatency(
                phase=phase,
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                average_ms=float(row["Average Response Time"]),
                percentiles_ms={p: _number(row.get(p)) for p in PERCENTILES},
            )
        )
    return latency


def read_failures(path: Path, sessions: int) -> list[FailureRow]:
    rows = [row for row in _csv(path) if row.get("Method") == "SMTP"]
    failures = [
        FailureRow(
            phase=row["Name"],
            error=row["Error"],
            occurrences=int(row["Occurrences"]),
            rate=int(row["Occurrences"]) / sessions if sessions else 0.0,
        )
        for row in rows
    ]
    order = {phase: index for index, phase in enumerate(PHASES)}
    return sorted(failures, key=lambda r: (order.get(r.phase, 99), -r.occurrences, r.error))


def _csv(path: Path) -> list[dict[str, str]]:
    try:
        text = path.read_text()
    except OSError as error:
        raise LoadSummaryError(f"{path}: cannot read Locust's report: {error}") from None
    return list(csv.DictReader(io.StringIO(text)))


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "", "N/A") else math.nan
    except ValueError:
        return math.nan


def journal_counts(path: Path) -> dict[str, Any]:
    """What the embedded receiver saw: sessions, accepted messages, 421s at the greeting; and
    per client address (`clients`: address -> its sessions, 421s and accepted messages), the
    view of a receiver that throttles per IP."""
    with Journal(path) as journal:
        sessions = journal.sessions()
        messages = journal.messages()
        replies = journal.events(kind="reply")
    refused_sessions = {
        event.session_id
        for event in replies
        if event.stage == "greeting" and event.text.startswith("421")
    }
    client_of = {session.id: session.client for session in sessions}
    clients: dict[str, dict[str, int]] = {}
    for session in sessions:
        row = clients.setdefault(session.client, {"sessions": 0, "refused_421": 0, "messages": 0})
        row["sessions"] += 1
        row["refused_421"] += session.id in refused_sessions
    for message in messages:
        clients[client_of[message.session_id]]["messages"] += 1
    return {
        "sessions": len(sessions),
        "messages": len(messages),
        "refused_421": len(refused_sessions),
        "clients": clients,
    }


def client_lines(clients: dict[str, dict[str, int]]) -> list[str]:
    """The per-address view in a few lines: how many addresses, and the share of each one's
    sessions refused with 421 (min, median, max)."""
    if not clients:
        return []
    shares = sorted(row["refused_421"] / row["sessions"] for row in clients.values())
    median = shares[len(shares) // 2]
    return [
        f"client addresses: {len(clients)}; 421 share of each address's sessions: "
        f"min {shares[0]:.0%}, median {median:.0%}, max {shares[-1]:.0%}"
    ]


def write_plots(summary: LoadSummary, run_dir: Path) -> list[str]:
    """Rates and users over time, backlog over time, latency percentiles per phase (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    written = []
    f = summary.time_factor
    wall = [row[0] for row in summary.series]

    figure = Figure(figsize=(10, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(wall, [row[1] for row in summary.series], label="offered (first attempts)/s")
    axes.plot(wall, [row[2] for row in summary.series], label="accepted/s")
    axes.plot(wall, [row[3] for row in summary.series], label="deferred/s")
    axes.set_xlabel(f"wall seconds (x{f:g} = real seconds)")
    axes.set_ylabel("messages per wall second")
    users = axes.twinx()
    users.step(wall, [row[5] for row in summary.series], where="post", color="#888", ls="--")
    users.set_ylabel("connection slots (users, dashed)")
    axes.legend(loc="upper right", fontsize=8)
    axes.set_title(f"herd load: {summary.curve}", loc="left", fontsize=10)
    figure.tight_layout()
    figure.savefig(run_dir / RATES_PLOT, format="png", metadata={"Software": None})
    written.append(RATES_PLOT)

    figure = Figure(figsize=(10, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.fill_between(wall, [row[4] for row in summary.series], step="post", alpha=0.5)
    if summary.drained_wall is not None:
        axes.axvline(summary.drained_wall, color="#d93025", ls=":", label="drained")
        axes.legend(fontsize=8)
    axes.set_xlabel(f"wall seconds (x{f:g} = real seconds)")
    axes.set_ylabel("messages queued by senders")
    axes.set_title("backlog (offered, not yet accepted, bounced or expired)", loc="left")
    figure.tight_layout()
    figure.savefig(run_dir / BACKLOG_PLOT, format="png", metadata={"Software": None})
    written.append(BACKLOG_PLOT)

    figure = Figure(figsize=(10, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    phases = [row.phase for row in summary.latency]
    width = 0.8 / len(PERCENTILES)
    for i, percentile in enumerate(PERCENTILES):
        axes.bar(
            [x + i * width for x in range(len(phases))],
            [row.percentiles_ms.get(percentile, 0.0) for row in summary.latency],
            width=width,
            label=percentile,
        )
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(phases))], phases)
    axes.set_ylabel("ms (Locust rounds below 100 ms to whole ms)")
    axes.set_title("latency per SMTP phase", loc="left")
    axes.legend(fontsize=8, ncols=len(PERCENTILES))
    figure.tight_layout()
    figure.savefig(run_dir / LATENCY_PLOT, format="png", metadata={"Software": None})
    written.append(LATENCY_PLOT)
    return written
