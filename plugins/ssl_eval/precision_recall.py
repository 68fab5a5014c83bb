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

from dataclasses import dataclass
from pathlib import Path

import numpy as np


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


def plot_precision_recall(curve: PrecisionRecallCurve, path: str | Path, title: str = "Hamming ranking") -> Path:
    """Write a PNG: precision against recall (left), both against the radius (right)."""
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, touches no global backend

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    left.plot(curve.recall, curve.precision, marker=".")
    left.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=f"{title}: PR by radius")
    right.plot(curve.radius, curve.precision, label="precision")
    right.plot(curve.radius, curve.recall, label="recall")
    right.set(xlabel="Hamming radius", ylim=(0, 1.02), title="within radius")
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
