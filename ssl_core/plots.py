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


def plot_training_curves(run_dir: Path, out: Path) -> Path | None:
    """One panel per logged metric against the step, the ring band in its own; the PNG path (None without a log)."""
    series = read_metrics(run_dir)
    if not series:
        return None
    keys = ["loss"] + sorted(k for k in series if k != "loss" and not k.startswith("ring_"))
    keys = [k for k in keys if k in series]
    band = [k for k in ("ring_upper", "ring_lower") if k in series]
    panels = len(keys) + (1 if band else 0)
    cols = min(3, panels)
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, key in zip(flat, keys):
        steps, values = zip(*series[key])
        ax.plot(steps, values, lw=1)
        ax.set_title(key)
        ax.set_xlabel("step")
    if band:
        ax = flat[len(keys)]
        for key in band:
            steps, values = zip(*series[key])
            ax.plot(steps, values, label=key.replace("ring_", ""))
        ax.set_title("ring band (percentiles)")
        ax.set_xlabel("step")
        ax.legend()
    for ax in flat[panels:]:
        ax.axis("off")
    fig.tight_layout()
    try:
        atomic_savefig(fig, out, dpi=110)
    finally:
        plt.close(fig)
    return out
