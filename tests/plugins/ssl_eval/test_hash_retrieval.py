"""The hash retrieval evaluator: seeded splits, codes from embed(), metrics, protocol, PR curve files and PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import ssl_eval.precision_recall
from faults import inject
from ssl_core.atomic_write import DiskFullError
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


class EmbedIsProjection(nn.Module):
    """An objective whose embedding is a fixed random projection of its input: other codes, another mAP."""

    def __init__(self):
        super().__init__()
        self.weight = torch.randn(8, 8, generator=torch.Generator().manual_seed(7))

    def embed(self, x):
        return x @ self.weight


def make_ctx(tmp_path, splits, objective=None, encoder_label=None):
    ctx = EvalContext(encoder=Identity(), registry=StubRegistry(splits), dataset="toy", dataset_params={},
                      views=Views(), run_dir=tmp_path, objective=objective or EmbedIsInput(), batch_size=16)
    if encoder_label is not None:  # the harness's name of the encoder evaluated ("pretrained", "random init")
        ctx.encoder_label = encoder_label
    return ctx


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


@pytest.fixture
def drawn(monkeypatch):
    """The figures the precision-recall plot saves, in order."""
    figures, save = [], ssl_eval.precision_recall.atomic_savefig

    def record(fig, path, **kwargs):
        figures.append(fig)
        return save(fig, path, **kwargs)

    monkeypatch.setattr(ssl_eval.precision_recall, "atomic_savefig", record)
    return figures


def legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def evaluate_as(tmp_path, splits, label, objective, **params):
    """One record as the harness writes it to results.json for the encoder ``label``."""
    outcome = HashRetrieval(queries_per_class=2, train_per_class=3, **params).evaluate(
        make_ctx(tmp_path, splits, objective, label))
    return {"encoder": label, "metrics": outcome["metrics"], "protocol": outcome["protocol"]}


def test_random_init_writes_its_own_curve_and_the_plot_shows_both(tmp_path, drawn):
    splits = toy_splits()
    records = [evaluate_as(tmp_path, splits, "pretrained", EmbedIsInput()),
               evaluate_as(tmp_path, splits, "random init", EmbedIsProjection())]
    pretrained, random_init = (r["protocol"]["pr_curve_json"] for r in records)
    assert pretrained == str(tmp_path / "hash_retrieval_pr.json")
    assert random_init == str(tmp_path / "hash_retrieval_pr_random_init.json")
    saved = [json.loads(open(path).read()) for path in (pretrained, random_init)]
    assert saved[0] != saved[1] and saved[0]["precision"] != saved[1]["precision"]
    maps = [r["metrics"]["map_at_all"] for r in records]
    assert maps[0] != pytest.approx(maps[1], abs=1e-3)
    for record, curve in zip(records, saved):
        assert curve["encoder"] == record["encoder"] and curve["map_at_all"] == record["metrics"]["map_at_all"]
        assert record["protocol"]["pr_curve_png"] == str(tmp_path / "hash_retrieval_pr.png")
    assert legend(drawn[0]) == [f"pretrained (mAP@all {maps[0]:.3f})"]
    assert legend(drawn[-1]) == [f"pretrained (mAP@all {maps[0]:.3f})", f"random init (mAP@all {maps[1]:.3f})"]
    assert (tmp_path / "hash_retrieval_pr.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_order_and_curves_of_another_setting(tmp_path, drawn):
    splits = toy_splits()
    first = evaluate_as(tmp_path, splits, "random init", EmbedIsProjection())
    second = evaluate_as(tmp_path, splits, "pretrained", EmbedIsInput())
    maps = [second["metrics"]["map_at_all"], first["metrics"]["map_at_all"]]
    assert legend(drawn[-1]) == [f"pretrained (mAP@all {maps[0]:.3f})", f"random init (mAP@all {maps[1]:.3f})"]
    again = evaluate_as(tmp_path, splits, "pretrained", EmbedIsInput(), seed=4)  # another split: the baseline is stale
    assert legend(drawn[-1]) == [f"pretrained (mAP@all {again['metrics']['map_at_all']:.3f})"]
    assert (tmp_path / "hash_retrieval_pr_random_init.json").exists()  # left in place, only not drawn


def test_a_failed_curve_write_keeps_the_previous_file(tmp_path, monkeypatch):
    splits = toy_splits()
    evaluate_as(tmp_path, splits, "pretrained", EmbedIsInput(), plot=False)
    before = (tmp_path / "hash_retrieval_pr.json").read_bytes()
    counts = inject("hash_retrieval_pr.json", "full", budget=10, monkeypatch=monkeypatch)
    with pytest.raises(DiskFullError, match="hash_retrieval_pr.json"):
        evaluate_as(tmp_path, splits, "pretrained", EmbedIsProjection(), plot=False)
    assert counts["seen"] == 1
    assert (tmp_path / "hash_retrieval_pr.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hash_retrieval_pr.json"]
