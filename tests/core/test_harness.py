"""The harness's pieces: the results table, frozen encoders, checksums (evaluate_run end to end: test_cli.py)."""

from __future__ import annotations

import hashlib

import torch

from ssl_core.harness import freeze, results_markdown, sha256

RESULTS = {
    "run": "r", "seed": 3, "library_version": "0.1", "git_commit": None, "checkpoint_sha256": "ab" * 32,
    "training": {"epochs": 2, "global_steps": 10, "final_loss": 1.23456},
    "random_init": {"weights": "the pipeline's seed", "batchnorm": "recalibrated"},
    "evaluations": [
        {"evaluator": "knn", "encoder": "pretrained", "metrics": {"top1": 0.5}, "protocol": {"k": 5},
         "tables": {"per class": "| a |"}},
        {"evaluator": "knn", "encoder": "random init", "metrics": {"top1": 0.25}, "protocol": {"k": 5},
         "tables": {"per class": "| b |"}},
    ],
}


def test_results_markdown_has_one_row_per_metric_and_one_column_per_encoder():
    text = results_markdown(RESULTS)
    assert text.startswith("# Results: r\n\nTrained 2 epochs, 10 steps; final loss 1.2346.")
    assert "| evaluator | metric | pretrained | random init |" in text
    assert "| knn | top1 | 0.5000 | 0.2500 |" in text
    assert "## knn: per class\n\n| a |" in text and "| b |" not in text  # the first encoder's tables only
    assert "- **knn**: k=5" in text and "commit n/a, checkpoint sha256 abababababababab" in text


def test_freeze_and_sha256(tmp_path):
    module = freeze(torch.nn.Linear(2, 2).train())
    assert not module.training and not any(p.requires_grad for p in module.parameters())
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert sha256(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_each_encoder_evaluated_is_named_to_the_evaluators(tmp_path):
    """The harness tells evaluators which encoder they see: the random-init pass writes its own curve file."""
    import json

    from ssl_core.cli import main

    from pipeline_helpers import tiny_pipeline

    extra = ("\nevaluate:\n  - name: hash_retrieval\n    params: {protocol: splits, query_split: test, "
             "database_split: train, plot: false}\neval_options: {random_init_baseline: true}\n")
    assert main(["run", str(tiny_pipeline(tmp_path, extra=extra)), "train.max_steps=1"]) == 0
    records = json.loads((tmp_path / "run" / "results.json").read_text())["evaluations"]
    files = {r["encoder"]: r["protocol"]["pr_curve_json"] for r in records}
    assert set(files) == {"pretrained", "random init"} and len(set(files.values())) == 2
    for encoder, path in files.items():
        assert json.loads(open(path).read())["encoder"] == encoder
