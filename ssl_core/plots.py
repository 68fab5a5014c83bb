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


def panels_of(keys) -> dict[str, list[str]]:
    """Metrics grouped into panels: ``group/name`` keys share the panel ``group``; any other key has its own.

    ``loss`` comes first, then the panels in name order, each panel's keys sorted.
    """
    panels: dict[str, list[str]] = {}
    for key in sorted(keys):
        panels.setdefault(key.split("/", 1)[0] if "/" in key else key, []).append(key)
    return dict(sorted(panels.items(), key=lambda item: (item[0] != "loss", item[0])))


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
    """One panel per logged metric or metric group (:func:`panels_of`) that varies, against the step, epochs marked.

    Returns the PNG path (None without a log). Each panel's y axis is labelled
    with its metric (or group, whose members share it with a legend); a metric
    outside a group that is constant over the run (a constant learning rate,
    say) is left out and named in the figure's caption; the title is the run's
    name (``title``, else its ``pipeline.yaml`` name, else the folder's).
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
    constant = sorted(k for k, v in series.items() if "/" not in k and not _varies(v))
    groups = panels_of(k for k in series if k not in constant)
    panels = max(1, len(groups))
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

    for ax, (group, keys) in zip(flat, groups.items()):
        for key in keys:
            steps, values = zip(*series[key])
            ax.plot(steps, values, lw=1, label=key.split("/", 1)[1] if "/" in key else None)
        ax.set_ylabel(group)
        mark_epochs(ax)
        if any("/" in key for key in keys):
            ax.legend(fontsize=8)
    for ax in flat[len(groups):]:
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
