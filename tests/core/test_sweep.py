"""ssl-core sweep: one run per value (or per value and seed), a table read from each run's results.json,
skip and resume, config errors; with --seeds: mean ± std in the table, error bars in the plot."""

from __future__ import annotations

import csv
import json
import statistics

import matplotlib.pyplot as plt
import pytest
from matplotlib.container import ErrorbarContainer

from ssl_core.cli import main
from ssl_core.errors import ConfigError
from ssl_core.sweep import figure, folder_name, parse_seeds, split_values, summarize, sweep, to_markdown

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


# --- seeds -------------------------------------------------------------------------------------------------

KNN = "evaluate:\n  - {name: knn, params: {k: 5}}\n"
TWO_STEPS = ["train.max_steps=2"]


def numbers_of(run_dir):
    """The table's columns, by header, from a run's results.json."""
    metrics, results = metrics_of(run_dir)
    return {"training final_loss": results["training"]["final_loss"],
            **{f"{e} {m}": v for (e, m, encoder), v in metrics.items() if encoder == "pretrained"}}, results


def table_rows(table):
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return header, {cells[0]: dict(zip(header[1:], cells[1:]))
                    for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}


def test_seeds_folders_table_resume_and_error_bars(tmp_path, capsys):
    path = tiny_pipeline(tmp_path, every=1, extra=KNN, test_fraction=0.6)
    out = tmp_path / "sweep"
    folders = {(v, s): out / f"temperature={v}_seed={s}" for v in ("0.2", "0.5") for s in (0, 1)}

    # the first (value, seed) crashes mid-run: its own folder is an interrupted run, refused without --resume ...
    with pytest.raises(RuntimeError, match="simulated crash"):
        sweep(path, PARAM, "0.2,0.5", TWO_STEPS, out=out, seeds=["0", "1"], callbacks=[Crash(2)])
    assert not (folders["0.2", 0] / "model.pt").exists() and (folders["0.2", 0] / "checkpoints").is_dir()
    assert not folders["0.2", 1].exists()
    argv = ["sweep", str(path), "--param", PARAM, "--values", "0.2,0.5", "--out", str(out), "--seeds", "0", "1",
            *TWO_STEPS]  # the override after --seeds is an override, not a seed
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "temperature=0.2_seed=0" in err and "seed=1" not in err
    # ... continued with it, and the three others trained, each (value, seed) in its own folder
    assert main([*argv, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("resuming") == 1 and printed.count(": training ...") == 3
    assert "over 2 values x 2 seeds (4 runs)" in printed
    for (value, seed), folder in folders.items():
        assert (folder / "model.pt").exists()
        results = json.loads((folder / "results.json").read_text())
        assert results["seed"] == seed and results["pipeline"]["seed"] == seed
        assert results["pipeline"]["objective"]["params"]["temperature"] == float(value)
        assert results["training"]["global_steps"] == 2
    assert not (out / "temperature=0.2").exists()  # no unseeded run

    # every run finished: a rerun trains nothing, and gives the summary
    said = []
    summary = sweep(path, PARAM, "0.2,0.5", TWO_STEPS, out=out, seeds=[0, 1], progress=said.append)
    assert sum("already finished" in line for line in said) == 4
    assert [(p.text, p.seed, p.run_dir) for p in summary["points"]] == [(v, s, f) for (v, s), f in folders.items()]

    # the table: per value, mean ± sample std over the seeds (as computed by hand), then each seed's value
    header, rows = table_rows((out / "sweep.md").read_text())
    assert header[1:] == ["training final_loss", "knn top1", "knn top5"]
    for value in ("0.2", "0.5"):
        by_seed = [numbers_of(folders[value, s])[0] for s in (0, 1)]
        group = next(g for g in summary["groups"] if g["text"] == value)
        for name in header[1:]:
            xs = [numbers[name] for numbers in by_seed]
            mean, std = statistics.mean(xs), statistics.stdev(xs)
            shown_mean, shown_std = (float(x) for x in rows[value][name].split(" ± "))
            assert abs(shown_mean - mean) <= 5e-5 and abs(shown_std - std) <= 5e-5, (value, name, rows[value][name])
            column = ("training", "final_loss", "") if name == "training final_loss" else (*name.split(), "pretrained")
            assert group["mean"][column] == pytest.approx(mean, abs=1e-12)
            assert group["std"][column] == pytest.approx(std, abs=1e-12)
            for seed, x in zip((0, 1), xs):
                assert rows[f"{value}, seed {seed}"][name] == f"{x:.4f}"
    # the seeds made different runs (different initial weights): the spread is real
    assert summary["groups"][0]["std"][("training", "final_loss", "")] > 0
    records = list(csv.DictReader(open(out / "sweep.csv")))
    assert [(r["value"], r["seed"]) for r in records] == [("0.2", "0"), ("0.2", "1"), ("0.5", "0"), ("0.5", "1")]
    assert float(records[3]["training/final_loss"]) == numbers_of(folders["0.5", 1])[0]["training final_loss"]
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"

    # the plot: the mean with the standard deviation as error bars, one per encoder and panel
    fig = figure(summary)
    try:
        bars = {ax.get_title(): [c for c in ax.containers if isinstance(c, ErrorbarContainer)] for ax in fig.axes}
        assert {title: len(found) for title, found in bars.items()} == {
            "training\nfinal_loss": 1, "knn\ntop1": 1, "knn\ntop5": 1}
        line, _, (errors,) = bars["training\nfinal_loss"][0].lines
        loss = ("training", "final_loss", "")
        assert list(line.get_xdata()) == [0.2, 0.5]
        assert list(line.get_ydata()) == pytest.approx([g["mean"][loss] for g in summary["groups"]])
        half = [(seg[1][1] - seg[0][1]) / 2 for seg in errors.get_segments()]
        assert half == pytest.approx([g["std"][loss] for g in summary["groups"]])
    finally:
        plt.close(fig)

    # one seed: plain points and lines, as without --seeds, and no ± in the table
    single = summarize(PARAM, out, [p for p in summary["points"] if p.seed == 0], [0])
    fig = figure(single)
    try:
        assert not any(ax.containers for ax in fig.axes)
        assert [len(ax.get_lines()) for ax in fig.axes] == [1, 1, 1]
    finally:
        plt.close(fig)
    table = to_markdown(single)
    assert "±" not in table and "| 0.2 |" in table and "seed 0" in table


@pytest.mark.parametrize("seeds, message", [
    (["0", "x"], "--seeds 'x': a seed is a whole number from 0 to 4294967295"),
    (["1.5"], "--seeds '1.5': a seed is a whole number"),
    (["-1"], "--seeds '-1': out of range"),
    (["1", "1"], "--seeds: seed 1 is repeated"),
    ([], "--seeds: give at least one seed"),
    (["0", "1", "seed=4"], "a seed=... override with --seeds"),
])
def test_a_bad_seed_is_one_line_and_exit_code_2(tmp_path, capsys, seeds, message):
    path = tiny_pipeline(tmp_path)
    out = tmp_path / "s"
    code = main(["sweep", str(path), "--param", PARAM, "--values", "0.1,0.2", "--out", str(out), "--seeds", *seeds])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ssl-core: error: ") and message in err, err
    assert not out.exists()  # nothing trained, nothing written


def test_seed_names_and_parsing():
    assert parse_seeds(None) is None
    assert parse_seeds(["0", "1", "2"]) == parse_seeds("0,1,2") == parse_seeds([0, "1,2"]) == [0, 1, 2]
    assert folder_name(PARAM, "0.1", 2) == "temperature=0.1_seed=2"
    assert folder_name(PARAM, "0.1") == "temperature=0.1"
    with pytest.raises(ConfigError, match="--param seed with --seeds"):
        sweep("unused.yaml", "seed", "1,2", seeds=[0, 1])
