"""training_curves.png: labelled panels of the metrics that vary, the run's name, epochs marked."""

from __future__ import annotations

import ssl_core.plots as plots


def write_log(run_dir, rows, part=0):
    folder = run_dir / "logs" / f"part{part}"
    folder.mkdir(parents=True)
    lines = ["epoch,loss,lr,step"] + [f"{e},{loss},{lr},{s}" for s, e, loss, lr in rows]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_training_curves_label_mark_and_skip_constants(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run).mkdir()
    (run / "pipeline.yaml").write_text("name: digits_try\n")
    write_log(run, [(s, s // 4, 2.0 - 0.1 * s, 0.01) for s in range(12)])  # 3 epochs of 4 steps, lr constant
    assert plots.epoch_starts(run) == [(0, 0), (1, 4), (2, 8)]
    figures = []
    monkeypatch.setattr(plots.plt, "close", figures.append)
    assert plots.plot_training_curves(run, run / "curves.png") == run / "curves.png"
    fig = figures[0]
    visible = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_ylabel() for ax in visible] == ["loss"]  # lr is constant: no panel of its own
    assert fig._suptitle.get_text() == "digits_try: training, 3 epochs"
    assert "constant over the run: lr = 0.01" in [t.get_text() for t in fig.texts]
    assert sorted(line.get_xdata()[0] for line in visible[0].lines[1:]) == [4, 8]  # epoch starts, dotted
    assert (run / "curves.png").stat().st_size > 1000
