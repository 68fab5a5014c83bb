"""Pictures of a run: training curves from the CSV log."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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


def panels_of(keys) -> dict[str, list[str]]:
    """Metrics grouped into panels: ``group/name`` keys share the panel ``group``; any other key has its own.

    ``loss`` comes first, then the panels in name order, each panel's keys sorted.
    """
    panels: dict[str, list[str]] = {}
    for key in sorted(keys):
        panels.setdefault(key.split("/", 1)[0] if "/" in key else key, []).append(key)
    return dict(sorted(panels.items(), key=lambda item: (item[0] != "loss", item[0])))


def plot_training_curves(run_dir: Path, out: Path) -> Path | None:
    """One panel per logged metric or metric group (:func:`panels_of`) against the step; the PNG path (None without a log)."""
    series = read_metrics(run_dir)
    if not series:
        return None
    panels = panels_of(series)
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, (title, keys) in zip(flat, panels.items()):
        for key in keys:
            steps, values = zip(*series[key])
            ax.plot(steps, values, lw=1, label=key.split("/", 1)[1] if "/" in key else None)
        ax.set_title(title)
        ax.set_xlabel("step")
        if any("/" in key for key in keys):
            ax.legend()
    for ax in flat[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
