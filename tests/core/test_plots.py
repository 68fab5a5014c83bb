"""training_curves.png: labelled panels of the metrics that vary (grouped by their prefix before '/', loss first),
the run's name, epochs marked."""

from __future__ import annotations

import ssl_core.plots as plots
from ssl_core.plots import panels_of, plot_training_curves


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


def test_panels_group_by_prefix_and_put_loss_first():
    keys = ["lr", "ring/upper", "loss", "ring/lower", "mi_bound", "queue/filled"]
    assert panels_of(keys) == {"loss": ["loss"], "lr": ["lr"], "mi_bound": ["mi_bound"],
                               "queue": ["queue/filled"], "ring": ["ring/lower", "ring/upper"]}


def test_plot_written_from_a_csv_log_with_a_group(tmp_path, monkeypatch):
    log = tmp_path / "logs" / "part0"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text("epoch,step,loss,band/lower,band/upper\n0,0,1.0,1,100\n0,1,0.5,1,90\n")
    figures = []
    monkeypatch.setattr(plots.plt, "close", figures.append)
    out = plot_training_curves(tmp_path, tmp_path / "curves.png")
    assert out.exists() and out.stat().st_size > 1000
    visible = [ax for ax in figures[0].axes if ax.axison]
    assert [ax.get_ylabel() for ax in visible] == ["loss", "band"]  # band/lower, constant, stays in its group
    assert [t.get_text() for t in visible[1].get_legend().get_texts()] == ["lower", "upper"]
    assert plot_training_curves(tmp_path / "empty", tmp_path / "none.png") is None
