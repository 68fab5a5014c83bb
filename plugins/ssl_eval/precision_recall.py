"""Precision and recall of hash lookup within a Hamming radius, and their plot.

For a radius ``r`` a query retrieves every database item at Hamming distance
``<= r``. Per query, precision is hits / retrieved (0 when nothing is
retrieved, the convention of the deep-hashing "precision within radius 2"
metric) and recall is hits / relevant (0 when the query has no relevant
item); both are averaged over queries. They follow from the per-distance
counts of :class:`ssl_eval.mean_average_precision.HammingRanking` in
``O(D)`` per query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssl_core.atomic_write import atomic_savefig


@dataclass
class PrecisionRecallCurve:
    """Mean precision and recall at each Hamming radius ``0..D``."""

    radius: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    def as_dict(self) -> dict[str, list]:
        return {"radius": self.radius.tolist(), "precision": self.precision.tolist(), "recall": self.recall.tolist()}


def precision_recall_by_radius(hist: np.ndarray, rel_hist: np.ndarray) -> PrecisionRecallCurve:
    """The curve from ``[Q, D + 1]`` item and hit counts per distance."""
    retrieved = np.cumsum(hist, axis=1).astype(np.float64)
    hits = np.cumsum(rel_hist, axis=1).astype(np.float64)
    relevant = hits[:, -1:]
    precision = np.divide(hits, retrieved, out=np.zeros_like(hits), where=retrieved > 0)
    recall = np.divide(hits, relevant, out=np.zeros_like(hits), where=relevant > 0)
    return PrecisionRecallCurve(np.arange(hist.shape[1]), precision.mean(axis=0), recall.mean(axis=0))


def precision_recall_figure(curves: PrecisionRecallCurve | Mapping[str, PrecisionRecallCurve],
                            title: str = "Hamming ranking", map_at_all: Mapping[str, float] | None = None):
    """The figure: precision against recall (left), both against the radius (right).

    Args:
        curves: one curve, or curves by name (e.g. ``{"pretrained": ..., "random init": ...}``), drawn in
            that order, each in its own colour.
        title: the left panel's title starts with it.
        map_at_all: mAP@all by curve name; a named curve's legend label then reads
            ``"pretrained (mAP@all 0.484)"``.

    Returns:
        A ``matplotlib.figure.Figure`` (not attached to pyplot).
    """
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, touches no global backend

    named = isinstance(curves, Mapping)
    curves = curves if named else {"": curves}
    map_at_all = map_at_all or {}
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    for i, (name, curve) in enumerate(curves.items()):
        colour = f"C{i}"
        label = f"{name} (mAP@all {map_at_all[name]:.3f})" if name in map_at_all else name
        left.plot(curve.recall, curve.precision, marker=".", color=colour, label=label or None)
        # one curve: precision and recall in two colours; several: one colour each, recall dashed
        right.plot(curve.radius, curve.precision, color=colour, label=f"{name} precision".strip())
        right.plot(curve.radius, curve.recall, color=colour if named else "C1", linestyle="--" if named else "-",
                   label=f"{name} recall".strip())
    left.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=f"{title}: PR by radius")
    if named:
        left.legend()
    right.set(xlabel="Hamming radius", ylim=(0, 1.02), title="within radius")
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_precision_recall(curves: PrecisionRecallCurve | Mapping[str, PrecisionRecallCurve], path: str | Path,
                          title: str = "Hamming ranking", map_at_all: Mapping[str, float] | None = None) -> Path:
    """Write the PNG of :func:`precision_recall_figure` to ``path`` atomically (same arguments)."""
    return atomic_savefig(precision_recall_figure(curves, title, map_at_all), path, dpi=100)
