"""The herd's two pictures: the backlog building up during the outage, and the load after
reopening (offered vs accepted, by class). PNG for reports and chats, SVG for the web.

matplotlib is imported when a plot is drawn (it costs a third of a second), and draws on a
`Figure` with the Agg canvas, not through pyplot: no display, no global state.
"""

from __future__ import annotations

from pathlib import Path

from harness.herd.model.prediction import HerdPrediction


def write_plots(prediction: HerdPrediction, run_dir: Path, stem: str = "herd-model") -> list[Path]:
    """Write `<stem>.png` and `<stem>.svg` into `run_dir`; return their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    classes = prediction.classes
    figure = Figure(figsize=(10, 8), layout="constrained")
    FigureCanvasAgg(figure)
    during, after = figure.subplots(2, 1)
    hours = [p.t / 3600 for p in prediction.outage_curve]
    during.stackplot(
        hours,
        [[p.backlog[name] / 1e6 for p in prediction.outage_curve] for name in classes],
        labels=list(classes),
        alpha=0.8,
    )
    bounced = [sum(p.bounced.values()) / 1e6 for p in prediction.outage_curve]
    during.plot(hours, bounced, color="black", linestyle="--", label="bounced so far (all)")
    outage_hours = prediction.scenario.outage / 3600
    during.set_title(f"During the outage ({outage_hours:g} h): mail queued for us, by class")
    during.set_xlabel("hours since the outage began")
    during.set_ylabel("million messages")
    during.legend(loc="upper left")
    during.grid(alpha=0.3)

    t = [p.t / 3600 for p in prediction.steps]
    after.stackplot(
        t,
        [[p.offered[name] for p in prediction.steps] for name in classes],
        labels=[f"offered: {name}" for name in classes],
        alpha=0.6,
        step="post",
    )
    accepted = [sum(p.accepted.values()) for p in prediction.steps]
    after.step(t, accepted, where="post", color="black", label="accepted (all)")
    normal = prediction.scenario.rate
    after.axhline(normal, color="grey", linestyle=":", label=f"normal rate {normal:g}/s")
    if prediction.drain_time is not None:
        after.axvline(
            prediction.drain_time / 3600,
            color="red",
            linestyle="--",
            label=f"drained at {prediction.drain_time / 3600:.1f} h",
        )
    after.set_title("After reopening: offered load (stacked by class) vs accepted")
    after.set_xlabel("hours since reopening")
    after.set_ylabel("messages/s")
    after.legend(loc="upper right")
    after.grid(alpha=0.3)
    paths = [run_dir / f"{stem}.png", run_dir / f"{stem}.svg"]
    for path in paths:
        figure.savefig(path, dpi=110)
    return paths
