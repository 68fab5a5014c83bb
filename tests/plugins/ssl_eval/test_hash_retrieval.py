"""The hash retrieval evaluator: seeded splits, codes from embed(), metrics, protocol, PR curve PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from ssl_core.eval_context import EvalContext
from ssl_eval.hash_retrieval import HashRetrieval, random_retrieval_split, retrieval_split
from ssl_eval.mean_average_precision import hamming_ranking


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, xs, ys):
        self.xs, self.ys = xs, ys

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return self.xs[i], self.ys[i]


class StubRegistry:
    def __init__(self, splits):
        self.splits = splits

    def build(self, kind, name, params, split):
        return self.splits[split]


class Identity(nn.Module):
    feature_dim = 8

    def forward(self, x):
        return x


class EmbedIsInput(nn.Module):
    """An objective whose embedding is its input: the codes are set by the test."""

    def embed(self, x):
        return x


class Views:
    n_views = 2

    def train(self, x):
        return x

    def eval(self, x):
        return x


def make_ctx(tmp_path, splits):
    return EvalContext(encoder=Identity(), registry=StubRegistry(splits), dataset="toy", dataset_params={},
                       views=Views(), run_dir=tmp_path, objective=EmbedIsInput(), batch_size=16)


def toy_splits(multi=False, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(3, 8, generator=gen)
    out = {}
    for split, n in (("train", 36), ("test", 18)):
        labels = torch.arange(n) % 3
        codes = centers[labels] + 1.2 * torch.randn(n, 8, generator=gen)
        ys = [torch.eye(3, dtype=torch.long)[c] | torch.eye(3, dtype=torch.long)[(c + 1) % 3] * (i % 2)
              for i, c in enumerate(labels.tolist())] if multi else labels.tolist()
        out[split] = ListDataset(list(codes), ys)
    return out


def test_retrieval_split_is_seeded_disjoint_and_per_class():
    labels = np.repeat(np.arange(4), 10)
    q, db, train = retrieval_split(labels, queries_per_class=3, train_per_class=2, seed=5)
    assert len(q) == 12 and len(db) == 28 and len(train) == 8
    assert not set(q) & set(db) and set(q) | set(db) == set(range(40)) and set(train) <= set(db)
    assert all((labels[q] == c).sum() == 3 and (labels[train] == c).sum() == 2 for c in range(4))
    again = retrieval_split(labels, 3, 2, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip((q, db, train), again))
    assert not np.array_equal(retrieval_split(labels, 3, 2, seed=6)[0], q)
    with pytest.raises(ValueError, match="class 0 has 10 items"):
        retrieval_split(labels, 9, 2)
    q, db, train = random_retrieval_split(30, num_queries=5, num_train=7, seed=1)
    assert len(q) == 5 and len(db) == 25 and set(train) <= set(db) and not set(q) & set(db)


def test_per_class_protocol_metrics_and_protocol(tmp_path):
    splits = toy_splits()
    ctx = make_ctx(tmp_path, splits)
    result = HashRetrieval(queries_per_class=2, train_per_class=3, R=5, seed=3).evaluate(ctx)
    feats = torch.cat([torch.stack(splits[s].xs) for s in ("train", "test")])
    labels = np.concatenate([np.asarray(splits[s].ys) for s in ("train", "test")])
    q, db, _ = retrieval_split(labels, 2, 3, seed=3)
    want = hamming_ranking(feats[q], feats[db], labels[q], labels[db], R=5)
    assert result["metrics"]["map_at_all"] == pytest.approx(want.map_at_all, abs=1e-12)
    assert result["metrics"]["map_at_R"] == pytest.approx(want.map_at_r, abs=1e-12)
    assert 0.0 <= result["metrics"]["precision_within_radius_2"] <= 1.0
    protocol = result["protocol"]
    assert protocol["num_queries"] == 6 and protocol["num_database"] == 48 and protocol["num_train_items"] == 9
    assert protocol["code_bits"] == 8 and protocol["seed"] == 3 and protocol["R"] == 5
    assert protocol["relevance"] == "same label"
    assert (tmp_path / "hash_retrieval_pr.png").read_bytes()[:4] == b"\x89PNG"
    curve = json.loads((tmp_path / "hash_retrieval_pr.json").read_text())
    assert len(curve["precision"]) == 9 and protocol["pr_curve_json"].endswith("hash_retrieval_pr.json")


def test_random_protocol_multi_label_and_splits_protocol(tmp_path):
    splits = toy_splits(multi=True)
    ctx = make_ctx(tmp_path, splits)
    result = HashRetrieval(protocol="random", num_queries=10, num_train=5, plot=False).evaluate(ctx)
    assert result["protocol"]["relevance"] == "share >= 1 label"
    assert result["protocol"]["num_queries"] == 10 and result["protocol"]["num_database"] == 44
    assert "map_at_R" not in result["metrics"] and "pr_curve_png" not in result["protocol"]
    by_split = HashRetrieval(protocol="splits", query_split="test", database_split="train").evaluate(ctx)
    q, ql = torch.stack(splits["test"].xs), torch.stack(splits["test"].ys).numpy()
    d, dl = torch.stack(splits["train"].xs), torch.stack(splits["train"].ys).numpy()
    assert by_split["metrics"]["map_at_all"] == pytest.approx(hamming_ranking(q, d, ql, dl).map_at_all, abs=1e-12)
    with pytest.raises(ValueError, match="random_retrieval_split"):
        HashRetrieval().evaluate(make_ctx(tmp_path, splits))


def test_param_validation():
    with pytest.raises(ValueError, match="R must be"):
        HashRetrieval(R=0)
    with pytest.raises(ValueError, match="protocol"):
        HashRetrieval(protocol="nope")
