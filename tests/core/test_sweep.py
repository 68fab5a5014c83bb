"""ssl-core sweep: one run per value, a table read from each run's results.json, skip and resume, config errors."""

from __future__ import annotations

import csv
import json

import pytest

from ssl_core.cli import main
from ssl_core.errors import ConfigError
from ssl_core.sweep import folder_name, split_values, sweep

from pipeline_helpers import Crash, tiny_pipeline

PARAM = "objective.params.temperature"
EVALUATE = "evaluate:\n  - {name: knn, params: {k: 5}}\neval_options: {random_init_baseline: true}\n"
FAST = ["train.max_steps=3"]  # 3 steps of a width-4 CNN: seconds per value


def metrics_of(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    return {(r["evaluator"], m, r["encoder"]): v for r in results["evaluations"] for m, v in r["metrics"].items()}, results


def test_values_and_folders():
    assert split_values("0.05, 0.1,0.4") == ["0.05", "0.1", "0.4"]
    assert split_values("[1,2],{a: 1, b: 2},x") == ["[1,2]", "{a: 1, b: 2}", "x"]
    with pytest.raises(ConfigError, match="empty value"):
        split_values("0.1,,0.2")
    with pytest.raises(ConfigError, match="repeated"):
        split_values("0.1,0.1")
    assert folder_name("objective.params.p", "0.1") == "p=0.1"
    assert folder_name("evaluate.0.params.lrs", "[0.1, 1]") == "lrs=_0.1__1_"


def test_sweep_table_skip_and_resume(tmp_path, capsys):
    path = tiny_pipeline(tmp_path, every=1, extra=EVALUATE)
    out = tmp_path / "sweep"
    summary = sweep(path, PARAM, "0.2,0.5", FAST, out=out)

    # one row per value, every number the one in that run's results.json
    assert [p.text for p in summary["points"]] == ["0.2", "0.5"]
    for point, value in zip(summary["points"], (0.2, 0.5)):
        assert point.run_dir == out / f"temperature={value}"
        metrics, results = metrics_of(point.run_dir)
        assert results["pipeline"]["objective"]["params"]["temperature"] == value
        assert results["pipeline"]["train"]["max_steps"] == 3
        assert set(metrics) == {("knn", "top1", "pretrained"), ("knn", "top5", "pretrained"),
                                ("knn", "top1", "random init"), ("knn", "top5", "random init")}
        assert all(point.metrics[key] == v for key, v in metrics.items())
        assert point.metrics[("training", "final_loss", "")] == results["training"]["final_loss"]
    assert summary["mismatches"] == {}
    table = (out / "sweep.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith(("| 0.2 |", "| 0.5 |"))]
    assert len(rows) == 4  # pretrained table and random-init table
    first = summary["points"][0]
    assert f"| 0.2 | {first.metrics[('training', 'final_loss', '')]:.4f} | {first.metrics[('knn', 'top1', 'pretrained')]:.4f} |" in table
    with open(out / "sweep.csv") as f:
        records = list(csv.DictReader(f))
    assert [r["value"] for r in records] == ["0.2", "0.5"]
    assert float(records[1]["knn/top1/pretrained"]) == summary["points"][1].metrics[("knn", "top1", "pretrained")]
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"

    # finished values are not trained again; a new value crashes mid-run ...
    model = out / "temperature=0.2" / "model.pt"
    stamp = model.stat().st_mtime_ns
    with pytest.raises(RuntimeError, match="simulated crash"):
        sweep(path, PARAM, "0.2,0.5,0.9", FAST, out=out, callbacks=[Crash(2)])
    assert model.stat().st_mtime_ns == stamp
    assert not (out / "temperature=0.9" / "model.pt").exists()
    # ... is refused without --resume (before anything runs), and continued with it, from the command line
    assert main(["sweep", str(path), "--param", PARAM, "--values", "0.2,0.5,0.9", *FAST, "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", str(path), "--param", PARAM, "--values", "0.2,0.5,0.9", *FAST, "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already finished") == 2 and "0.9 (" in printed and "resuming" in printed
    assert "| 0.9 |" in printed and model.stat().st_mtime_ns == stamp
    assert metrics_of(out / "temperature=0.9")[1]["training"]["global_steps"] == 3
    assert [r["value"] for r in csv.DictReader(open(out / "sweep.csv"))] == ["0.2", "0.5", "0.9"]


def test_bad_param_is_the_config_error(tmp_path, capsys):
    path = tiny_pipeline(tmp_path)
    with pytest.raises(ConfigError, match=r"override 'objective.params.temperatur=0.1'.*valid choices: temperature"):
        sweep(path, "objective.params.temperatur", "0.1,0.2", out=tmp_path / "s")
    assert main(["sweep", str(path), "--param", "train.epoch", "--values", "1,2", "--out", str(tmp_path / "s")]) == 2
    assert "unknown key 'train.epoch'; valid choices: epochs" in capsys.readouterr().err
    assert main(["sweep", str(path), "--param", "train.epochs", "--values", "1,x", "--out", str(tmp_path / "s")]) == 2
    assert "train.epochs=x" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--param output"):
        sweep(path, "output", "a,b")
    assert not (tmp_path / "s").exists()  # nothing trained, nothing written


def test_folder_of_another_pipeline_is_refused(tmp_path):
    path = tiny_pipeline(tmp_path, extra=EVALUATE)
    run_dir = tmp_path / "sweep" / "temperature=0.3"
    run_dir.mkdir(parents=True)
    (run_dir / "model.pt").write_bytes(b"")
    (run_dir / "pipeline.yaml").write_text("name: another\n")
    with pytest.raises(ConfigError, match="holds a run of a different pipeline"):
        sweep(path, PARAM, "0.3", FAST, out=tmp_path / "sweep")
