"""The CIFAR-10 hashing pipelines follow the paper's retrieval protocol (Sec. 4.3) with one split.

The training data (``retrieval_subset``) and the ``hash_retrieval`` evaluator
must draw the same split: same dataset and parameters, pool, per-class counts
and seed. On the shared CIFAR-10 JPEGs the CPU file's split is built for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssl_core import make_registry
from ssl_core.config import load_config
from ssl_eval.hash_retrieval import retrieval_split

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ROOT / "examples" / "pipelines"
HASHING = {"nac-p0.4_vgg16bn_1xb1000-coslr-1000e_cifar10-hashing": (1000, 500), "nac-p0.4_vgg16bn-w0.25_1xb128-coslr-15e_cifar10jpg-600pc-hashing": (200, 100)}
SPLIT_KEYS = ("pool_splits", "queries_per_class", "train_per_class", "seed")


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


@pytest.mark.parametrize("name", sorted(HASHING))
def test_training_subset_and_evaluator_draw_the_same_split(name, registry):
    values = load_config(PIPELINES / f"{name}.yaml", registry=registry).values
    wrapper = values["data"]["params"]
    assert values["data"]["dataset"] == "retrieval_subset"
    hashing = next(e for e in values["evaluate"] if e["name"] == "hash_retrieval")
    assert hashing["params"]["protocol"] == "per_class" and wrapper.get("protocol", "per_class") == "per_class"
    assert hashing["data"] == {"dataset": wrapper["dataset"], "params": wrapper["params"]}
    for key in SPLIT_KEYS:
        assert hashing["params"][key] == wrapper[key], key
    assert (wrapper["queries_per_class"], wrapper["train_per_class"]) == HASHING[name]
    assert wrapper["pool_splits"] == ["train", "test"]
    statistics = next(e for e in values["evaluate"] if e["name"] == "code_statistics")
    assert statistics["params"]["split"] == "test" and statistics["data"] is None  # the queries


def test_cpu_split_on_the_real_jpegs(shared_data, registry):
    """12,000 pooled images; 1,000 train (100 per class) within the 10,000-image database; 2,000 queries."""
    values = load_config(PIPELINES / "nac-p0.4_vgg16bn-w0.25_1xb128-coslr-15e_cifar10jpg-600pc-hashing.yaml", registry=registry).values
    params = values["data"]["params"] | {"params": values["data"]["params"]["params"] | {"root": str(shared_data / "cifar10-jpg")}}
    train = registry.build("dataset", "retrieval_subset", params, split="train")
    inner = params["params"]
    labels = np.concatenate([registry.build("dataset", "image_folder", inner, split=s).targets for s in ("train", "test")])
    query, database, train_idx = retrieval_split(labels, 200, 100, 0)
    assert len(labels) == 12000 and len(query) == 2000 and len(database) == 10000
    assert np.array_equal(train.positions, train_idx) and len(train) == 1000
    assert set(train.positions) <= set(database) and not set(train.positions) & set(query)
    assert np.bincount(train.targets).tolist() == [100] * 10
