"""Training curves: metrics grouped by their prefix before '/', loss first."""

from __future__ import annotations

from ssl_core.plots import panels_of, plot_training_curves


def test_panels_group_by_prefix_and_put_loss_first():
    keys = ["lr", "ring/upper", "loss", "ring/lower", "mi_bound", "queue/filled"]
    assert panels_of(keys) == {"loss": ["loss"], "lr": ["lr"], "mi_bound": ["mi_bound"],
                               "queue": ["queue/filled"], "ring": ["ring/lower", "ring/upper"]}


def test_plot_written_from_a_csv_log_with_a_group(tmp_path):
    log = tmp_path / "logs" / "part0"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text("epoch,step,loss,band/lower,band/upper\n0,0,1.0,1,100\n0,1,0.5,1,90\n")
    out = plot_training_curves(tmp_path, tmp_path / "curves.png")
    assert out.exists() and out.stat().st_size > 1000
    assert plot_training_curves(tmp_path / "empty", tmp_path / "none.png") is None
