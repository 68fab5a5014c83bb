"""Pictures of a run: training curves from the CSV log."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ssl_core.atomic_write import atomic_savefig  # noqa: E402


def metric_files(run_dir: Path) -> list[Path]:
    """The run's CSV logs, one per training session (``logs/part0``, ``part1`` after a resume ...)."""
    return sorted((run_dir / "logs").glob("part*/metrics.csv"), key=lambda p: int(p.parent.name[4:]))


def read_metrics(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` over every session's log; a step redone after a resume keeps its last value."""
    series: dict[str, dict[int, float]] = {}
    for csv_path in metric_files(run_dir):
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                step = int(float(row.get("step") or 0))
                for key, value in row.items():
                    if key in ("step", "epoch") or value in ("", None):
                        continue
                    series.setdefault(key, {})[step] = float(value)
    return {k: sorted(v.items()) for k, v in series.items()}


def epoch_starts(run_dir: Path) -> list[tuple[int, int]]:
    """``[(epoch, first step logged in it), ...]`` from the CSV logs' ``epoch`` column."""
    first: dict[int, int] = {}
    for csv_path in metric_files(run_dir):
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("epoch") not in ("", None) and row.get("step") not in ("", None):
                    epoch, step = int(float(row["epoch"])), int(float(row["step"]))
                    first[epoch] = min(step, first.get(epoch, step))
    return sorted(first.items())


def _varies(points: list[tuple[int, float]]) -> bool:
    values = [v for _, v in points]
    return max(values) - min(values) > 1e-12 * max(1.0, abs(values[0]))


def plot_training_curves(run_dir: Path, out: Path, title: str | None = None) -> Path | None:
    """One panel per logged metric that varies, against the step, epochs marked; the PNG path (None without a log).

    Each panel's y axis is labelled with its metric; a metric constant over
    the run (a constant learning rate, say) is left out and named in the
    figure's caption; the title is the run's name (``title``, else its
    ``pipeline.yaml`` name, else the folder's). The ring band, when logged,
    has its own panel.
    """
    series = read_metrics(run_dir)
    if not series:
        return None
    run_dir = Path(run_dir)
    if title is None:
        import yaml

        saved = run_dir / "pipeline.yaml"
        title = (yaml.safe_load(saved.read_text()) or {}).get("name") if saved.exists() else None
        title = title or run_dir.name
    constant = sorted(k for k, v in series.items() if not _varies(v) and not k.startswith("ring_"))
    keys = ["loss"] + sorted(k for k in series if k != "loss" and not k.startswith("ring_"))
    keys = [k for k in keys if k in series and k not in constant]
    band = [k for k in ("ring_upper", "ring_lower") if k in series]
    panels = max(1, len(keys) + (1 if band else 0))
    cols = min(3, panels)
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.2 * rows + 0.7), squeeze=False)
    flat = axes.ravel()
    starts = epoch_starts(run_dir)
    every = max(1, len(starts) // 20)  # at most ~20 epoch marks per panel
    marks = [(e, st) for i, (e, st) in enumerate(starts) if i % every == 0 and e > 0]

    def mark_epochs(ax):
        for _, step in marks:
            ax.axvline(step, color="0.8", lw=0.6, ls=":", zorder=0)
        ax.set_xlabel("step" + (f" (dotted: start of every {'' if every == 1 else f'{every}th '}epoch)"
                                if marks else ""), fontsize=8)

    for ax, key in zip(flat, keys):
        steps, values = zip(*series[key])
        ax.plot(steps, values, lw=1)
        ax.set_ylabel(key)
        mark_epochs(ax)
    if band:
        ax = flat[len(keys)]
        for key in band:
            steps, values = zip(*series[key])
            ax.plot(steps, values, label=key.replace("ring_", ""))
        ax.set_ylabel("ring band (percentile)")
        mark_epochs(ax)
        ax.legend(fontsize=8)
    for ax in flat[len(keys) + (1 if band else 0):]:
        ax.axis("off")
    epochs = f", {starts[-1][0] + 1} epochs" if starts else ""
    fig.suptitle(f"{title}: training{epochs}", fontsize=11)
    if constant:
        fig.text(0.01, 0.005, "constant over the run: " + ", ".join(
            f"{k} = {series[k][0][1]:.4g}" for k in constant), fontsize=8)
    fig.tight_layout(rect=(0, 0.03 if constant else 0, 1, 1))
    try:
        atomic_savefig(fig, out, dpi=110)
    finally:
        plt.close(fig)
    return out
