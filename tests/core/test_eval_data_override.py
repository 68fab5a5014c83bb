"""The NAC retrieval protocol in one pipeline (paper, Section 4.3): train on the split's training subset
(``retrieval_subset``), evaluate ``hash_retrieval`` on the whole pool (an ``evaluate:`` entry's ``data:``).

Everything runs on the digits that ship with scikit-learn (1,438 train + 359 test = 1,797 pooled).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssl_core import make_registry
from ssl_core.config import load_config, load_config_text
from ssl_core.errors import ConfigError
from ssl_core.harness import evaluate_run, run_evaluators
from ssl_core.pipeline import build_pipeline
from ssl_core.run import train
from ssl_eval.hash_retrieval import retrieval_split

SPLIT = {"queries_per_class": 20, "train_per_class": 30, "seed": 7}

PIPELINE = """\
name: retrieval_protocol
seed: 1
data:
  dataset: retrieval_subset
  params: {{dataset: digits, params: {{}}, queries_per_class: 20, train_per_class: 30, seed: 7}}
views: digits
encoder: {{name: small_cnn, params: {{width: 4}}}}
objective: {{name: nac, params: {{p: 0.4, out_dim: 16}}}}
train:
  epochs: 1
  batch_size: 64
  optimizer: {{name: adam, lr: 0.002}}
  progress_bar: false
evaluate:
  - name: hash_retrieval
    params: {{protocol: per_class, queries_per_class: 20, train_per_class: 30, seed: 7, plot: false}}
    data: {{dataset: digits, params: {{}}}}
  - name: code_statistics
    params: {{split: test}}
output: {output}
"""


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def pooled_labels(registry) -> np.ndarray:
    return np.concatenate([np.asarray(registry.build("dataset", "digits", {}, split=s).targets) for s in ("train", "test")])


def test_training_subset_is_the_retrieval_splits_training_part(registry):
    labels = pooled_labels(registry)
    query, database, train_idx = retrieval_split(labels, 20, 30, 7)
    params = {"dataset": "digits", "params": {}, **SPLIT}
    parts = {s: registry.build("dataset", "retrieval_subset", params, split=s) for s in ("train", "test", "query", "database", "all")}
    assert np.array_equal(parts["train"].positions, train_idx) and len(parts["train"]) == 300
    assert np.array_equal(parts["query"].positions, query) and np.array_equal(parts["test"].positions, query)
    assert np.array_equal(parts["database"].positions, database) and len(parts["all"]) == len(labels) == 1797
    assert not set(parts["train"].positions) & set(query), "no training item is a query"
    assert set(parts["train"].positions) <= set(database)
    assert np.bincount(parts["train"].targets).tolist() == [30] * 10
    # the items are the pool's: position n_train + j is item j of the test split
    n_train = len(registry.build("dataset", "digits", {}, split="train"))
    test_split = registry.build("dataset", "digits", {}, split="test")
    k = int(np.flatnonzero(train_idx >= n_train)[0])
    image, label = parts["train"][k]
    expected_image, expected_label = test_split[int(train_idx[k]) - n_train]
    assert label == expected_label == labels[train_idx[k]]
    assert np.array_equal(np.asarray(image), np.asarray(expected_image))
    # another seed, another subset; the same seed, the same one
    other = registry.build("dataset", "retrieval_subset", {**params, "seed": 8}, split="train")
    again = registry.build("dataset", "retrieval_subset", params, split="train")
    assert not np.array_equal(other.positions, train_idx) and np.array_equal(again.positions, train_idx)


def test_pipeline_trains_on_the_subset_and_hash_retrieval_sees_the_pool(tmp_path, registry):
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE.format(output=tmp_path / "run"))
    config = load_config(path, registry=registry)
    _, _, train_idx = retrieval_split(pooled_labels(registry), 20, 30, 7)
    assert np.array_equal(build_pipeline(config, registry).train_data.positions, train_idx)
    run_dir = train(config, registry)
    results = evaluate_run(run_dir, registry, progress=lambda *_: None)
    assert json.loads((run_dir / "training.json").read_text())["global_steps"] == 300 // 64
    hashing, stats = results["evaluations"]
    assert hashing["data"] == {"dataset": "digits", "params": {}} and stats["data"] is None
    protocol = hashing["protocol"]
    assert protocol["dataset"] == "digits" and protocol["pool_size"] == 1797
    assert protocol["num_queries"] == 200 and protocol["num_database"] == 1597 and protocol["num_train_items"] == 300
    # without data: the pipeline's own data, whose test split is the 200 queries
    m = stats["metrics"]
    assert stats["protocol"]["dataset"] == "retrieval_subset"
    assert round(m["embedding/distinct_codewords"] / m["embedding/distinct_fraction"]) == 200


def test_data_keys_are_validated_with_their_line(registry):
    good = PIPELINE.format(output="runs/x")

    def error(text: str) -> str:
        with pytest.raises(ConfigError) as exc:
            load_config_text(text, "p.yaml", registry=registry)
        return str(exc.value)

    lines = good.splitlines()
    data_line = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("data: {dataset: digits"))
    message = error(good.replace("data: {dataset: digits, params: {}}", "data: {datset: digits, params: {}}"))
    assert message.startswith(f"p.yaml:{data_line}:") and "evaluate.0.data.datset" in message
    assert "valid choices: dataset, params" in message
    message = error(good.replace("data: {dataset: digits, params: {}}", "data: {dataset: digitz}"))
    assert message.startswith(f"p.yaml:{data_line}:") and "unknown dataset 'digitz'" in message
    assert "valid choices: digits" in message
    message = error(good.replace("data: {dataset: digits, params: {}}", "data: {dataset: digits, params: {test_fractio: 0.3}}"))
    assert message.startswith(f"p.yaml:{data_line}:") and "test_fractio" in message and "test_fraction" in message
    message = error(good.replace("    data: {dataset", "    dat: {dataset"))
    assert message.startswith(f"p.yaml:{data_line}:") and "unknown key 'evaluate.0.dat'" in message
    assert "valid choices: data" in message
    message = error(good.replace("data: {dataset: digits, params: {}}", "data: digits"))
    assert message.startswith(f"p.yaml:{data_line}:") and "must be dict or null" in message
    # inside the wrapper of the training data
    message = error(good.replace("{dataset: digits, params: {}, q", "{dataset: digits, params: {split_sed: 1}, q"))
    assert message.startswith("p.yaml:5:") and "data.params.params" in message and "split_seed" in message
    message = error(good.replace("{dataset: digits, params: {}, q", "{dataset: digts, q"))
    assert message.startswith("p.yaml:5:") and "unknown dataset 'digts'" in message
    message = error(good.replace("{dataset: digits, params: {}, q", "{dataset: digits, pool_splits: [train, val], q"))
    assert message.startswith("p.yaml:5:") and "'val' is not a split of the dataset 'digits'" in message
    assert "valid choices: " in message and "test" in message.split("valid choices: ")[1]


def test_a_value_its_dataset_refuses_names_its_line(tmp_path, registry):
    text = PIPELINE.format(output=tmp_path / "run").replace("data: {dataset: digits, params: {}}",
                                                           "data:\n      dataset: digits\n      params: {test_fraction: 1.5}")
    config = load_config_text(text, "p.yaml", registry=registry)
    pipeline = build_pipeline(config, registry)
    with pytest.raises(ConfigError) as exc:
        run_evaluators(pipeline, "random init", progress=lambda *_: None)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "test_fraction: 1.5" in s)
    assert str(exc.value).startswith(f"p.yaml:{line}:") and "test_fraction must lie in (0, 1)" in str(exc.value)


def test_too_few_items_per_class_name_the_parameter(tmp_path, registry):
    text = PIPELINE.format(output=tmp_path / "run").replace("queries_per_class: 20,", "queries_per_class: 150,", 1)
    config = load_config_text(text, "p.yaml", registry=registry)
    with pytest.raises(ConfigError) as exc:
        build_pipeline(config, registry)
    assert str(exc.value).startswith("p.yaml:5:") and "queries_per_class" in str(exc.value)
    assert "fewer than queries_per_class + train_per_class = 180" in str(exc.value)


def test_features_of_different_data_are_cached_apart(registry):
    from ssl_core.eval_context import EvalContext
    from ssl_eval.hash_retrieval import HashRetrieval  # noqa: F401  (the evaluators read ctx.features)

    config = load_config_text(PIPELINE.format(output="runs/x"), "p.yaml", registry=registry)
    pipeline = build_pipeline(config, registry)
    ctx = EvalContext(encoder=pipeline.encoder.eval(), registry=registry, dataset="retrieval_subset",
                      dataset_params=config.values["data"]["params"], views=pipeline.views, run_dir=None,
                      objective=pipeline.objective.eval())
    own = ctx.features("test", "embedding")
    other = ctx.with_data("digits", {}).features("test", "embedding")
    assert len(own[0]) == 200 and len(other[0]) == 359
    assert torch.equal(ctx.features("test", "embedding")[0], own[0])
