"""The precision-recall plot: one curve or several named ones with their mAP@all, written atomically."""

from __future__ import annotations

import numpy as np
import pytest

from faults import inject
from ssl_core.atomic_write import DiskFullError
from ssl_eval.precision_recall import PrecisionRecallCurve, plot_precision_recall, precision_recall_figure


def curve(shift: float = 0.0) -> PrecisionRecallCurve:
    radius = np.arange(5)
    return PrecisionRecallCurve(radius, np.linspace(1.0, 0.5, 5) - shift, np.linspace(0.2, 1.0, 5))


def texts(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


def test_named_curves_are_labelled_with_their_map():
    fig = precision_recall_figure({"pretrained": curve(), "random init": curve(0.3)}, "toy 8 bits",
                                  map_at_all={"pretrained": 0.4837, "random init": 0.1})
    left, right = fig.axes
    assert texts(left.get_legend()) == ["pretrained (mAP@all 0.484)", "random init (mAP@all 0.100)"]
    assert texts(right.get_legend()) == ["pretrained precision", "pretrained recall",
                                         "random init precision", "random init recall"]
    assert [line.get_color() for line in left.get_lines()] == ["C0", "C1"]
    assert precision_recall_figure({"pretrained": curve()}).axes[0].get_legend() is not None


def test_a_single_curve_as_before(tmp_path):
    fig = precision_recall_figure(curve())
    assert fig.axes[0].get_legend() is None and texts(fig.axes[1].get_legend()) == ["precision", "recall"]
    path = plot_precision_recall(curve(), tmp_path / "sub" / "pr.png")
    assert path == tmp_path / "sub" / "pr.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_a_failed_write_keeps_the_previous_png(tmp_path, monkeypatch):
    path = plot_precision_recall(curve(), tmp_path / "pr.png")
    before = path.read_bytes()
    counts = inject("pr.png", "full", budget=100, monkeypatch=monkeypatch)
    with pytest.raises(DiskFullError, match="pr.png"):
        plot_precision_recall({"pretrained": curve(0.2)}, path, map_at_all={"pretrained": 0.5})
    assert counts["seen"] == 1
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["pr.png"]
