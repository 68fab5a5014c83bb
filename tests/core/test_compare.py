"""compare: one table across runs, with metrics from different protocols flagged."""

from __future__ import annotations

import json

from ssl_core.cli import main
from ssl_core.compare import compare


def fake_run(root, name, probe_epochs, top1, lr=0.1):
    run = root / name
    run.mkdir()
    results = {
        "run": name, "seed": 0,
        "pipeline": {"objective": {"name": "simclr", "negatives": {"source": {"name": "in_batch"}, "select": None}},
                     "encoder": {"name": "small_cnn"}, "train": {"epochs": 3},
                     "data": {"dataset": "digits", "params": {}}},
        "evaluations": [
            {"evaluator": "linear_probe", "encoder": "pretrained", "metrics": {"top1": top1},
             "protocol": {"layer": "pooled", "epochs": probe_epochs, "chosen_lr": lr}, "outcomes": ["chosen_lr"]},
            {"evaluator": "knn", "encoder": "pretrained", "metrics": {"top1": top1 - 0.1}, "protocol": {"k": 20}},
            {"evaluator": "hash_retrieval", "encoder": "pretrained", "metrics": {"map_at_all": top1 / 2},
             "protocol": {"protocol": "splits", "pr_curve_png": str(run / "hash_retrieval_pr.png")},
             "outcomes": ["pr_curve_png"]},
        ],
    }
    (run / "results.json").write_text(json.dumps(results))
    return run


def test_matching_protocols_are_not_flagged(tmp_path):
    a, b = fake_run(tmp_path, "a", 100, 0.9, lr=0.1), fake_run(tmp_path, "b", 100, 0.8, lr=1.0)
    comparison = compare([a, b])
    assert comparison["mismatches"] == {}  # the chosen lr and each run's own files are not the protocol
    assert comparison["table"][("linear_probe", "top1", "pretrained")] == {"a": 0.9, "b": 0.8}


def test_mismatched_protocols_are_flagged(tmp_path, capsys):
    a, b = fake_run(tmp_path, "a", 100, 0.9), fake_run(tmp_path, "b", 10, 0.8)
    comparison = compare([a, b])
    assert comparison["mismatches"] == {"linear_probe": {"epochs": {"a": 100, "b": 10}}}
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    markdown = (out / "comparison.md").read_text()
    assert "| linear_probe (!) | top1 | pretrained | 0.9000 | 0.8000 |" in markdown
    assert "| knn | top1 | pretrained |" in markdown
    assert "- **linear_probe** `epochs`: a: 100; b: 10" in markdown
    assert "linear_probe,top1,pretrained,True,0.9,0.8" in (out / "comparison.csv").read_text()
    assert (out / "comparison.png").stat().st_size > 1000


def test_only_the_entries_a_result_names_as_outcomes_are_left_out(tmp_path):
    a, b = fake_run(tmp_path, "a", 100, 0.9, lr=0.1), fake_run(tmp_path, "b", 100, 0.8, lr=1.0)
    results = json.loads((b / "results.json").read_text())
    results["evaluations"][0]["outcomes"] = []  # b's probe does not call its lr an outcome: it is then protocol
    (b / "results.json").write_text(json.dumps(results))
    assert compare([a, b])["mismatches"] == {"linear_probe": {"chosen_lr": {"a": None, "b": 1.0}}}
