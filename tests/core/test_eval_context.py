"""ssl_core.eval_context: features of the frozen encoder, the evaluator's data, and the label check."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from ssl_core.eval_context import EvalContext, TransformedDataset, check_labels, encode


class Items(Dataset):
    def __init__(self, xs, labels, num_classes=None):
        self.xs, self.labels = xs, labels
        if num_classes is not None:
            self.num_classes = num_classes

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return self.xs[i], self.labels[i]


class Encoder(nn.Module):
    """``pooled``: x @ [1, 2]; ``prepool``: [x, 2x] as a [N, 2, 2] map; dropout shows the mode."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[1.0, 2.0]]))
        self.dropout = nn.Dropout(0.99)

    def forward(self, x):
        return self.linear(self.dropout(x))

    def forward_features(self, x):
        return torch.stack([x, 2 * x], 1)


class Objective(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Dropout(0.99)

    def embed(self, x):
        return self.head(x) * 10


X = torch.tensor([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
BATCHES = [(X[:2], torch.tensor([0, 1])), (X[2:], torch.tensor([1]))]


def test_transformed_dataset_applies_the_transform_and_keeps_labels():
    data = TransformedDataset(Items([1, 2, 3], [0, 1, 0], num_classes=2), lambda x: x * 10)
    assert len(data) == 3 and data[1] == (20, 1) and data.num_classes == 2
    assert TransformedDataset(Items([1], [0]), str).num_classes is None


def test_encode_pooled_in_eval_mode_then_the_mode_back():
    encoder = Encoder().train()
    feats, labels = encode(encoder, BATCHES)
    assert torch.equal(feats, torch.tensor([[3.0], [2.0], [6.0]]))  # no dropout: eval mode
    assert torch.equal(labels, torch.tensor([0, 1, 1]))
    assert encoder.training and feats.device.type == "cpu" and not feats.requires_grad


def test_encode_prepool_flattens_the_last_map():
    feats, _ = encode(Encoder(), BATCHES, "prepool")
    assert feats.shape == (3, 4) and torch.equal(feats[1], torch.tensor([2.0, 0.0, 4.0, 0.0]))


def test_encode_embedding_is_the_objective_s_in_eval_mode():
    objective = Objective().train()
    feats, _ = encode(Encoder(), BATCHES, "embedding", objective)
    assert torch.equal(feats, X * 10) and not objective.training


def test_encode_features_are_float32():
    class Half(nn.Module):
        def forward(self, x):
            return x.to(torch.float16)

    feats, _ = encode(Half(), BATCHES)
    assert feats.dtype == torch.float32


def test_encode_errors_name_the_layer():
    with pytest.raises(ValueError, match="^layer 'embedding' needs the trained objective"):
        encode(Encoder(), BATCHES, "embedding")
    with pytest.raises(ValueError, match="^unknown layer 'logits'; valid choices: pooled, prepool, embedding$"):
        encode(Encoder(), BATCHES, "logits")


class Registry:
    """Builds datasets of 2-feature items: ``size`` items of split ``split``, labels ``i % classes``."""

    def __init__(self):
        self.built = []

    def build(self, kind, name, params, split):
        self.built.append((kind, name, dict(params), split))
        size, classes = params.get("size", 4), params.get("classes", 2)
        offset = 100.0 if split == "test" else 0.0
        xs = [torch.tensor([offset + i, 0.0]) for i in range(size)]
        return Items(xs, [params.get("label", i % classes) for i in range(size)], num_classes=classes)


def context(**kwargs) -> EvalContext:
    views = SimpleNamespace(eval=lambda x: x + 1, train=lambda x: -x)
    return EvalContext(encoder=Encoder(), registry=Registry(), dataset="toy", dataset_params={"size": 4},
                       views=views, run_dir=Path("."), batch_size=3, **kwargs)


def test_split_builds_the_dataset_with_the_views_transform():
    ctx = context()
    x, label = ctx.split("train")[2]
    assert torch.equal(x, torch.tensor([3.0, 1.0])) and label == 0
    x, _ = ctx.split("test", "train")[1]
    assert torch.equal(x, torch.tensor([-101.0, -0.0]))
    other = SimpleNamespace(eval=lambda x: x * 0)
    assert torch.equal(ctx.split("train", views=other)[3][0], torch.zeros(2))
    assert ctx.registry.built[0] == ("dataset", "toy", {"size": 4}, "train")


def test_another_dataset_is_built_with_its_own_params():
    ctx = context()
    assert ctx.resolve(None, None) == ("toy", {"size": 4})
    assert ctx.resolve("stl10", None) == ("stl10", {})
    assert ctx.resolve(None, {"size": 9}) == ("toy", {"size": 4})  # params go with a dataset named
    assert len(ctx.raw_split("test", "other", {"size": 2})) == 2
    assert ctx.registry.built == [("dataset", "other", {"size": 2}, "test")]


def test_with_data_changes_the_data_and_shares_the_cache():
    ctx = context()
    params = {"size": 5}
    other = ctx.with_data("other", params)
    params["size"] = 6  # a copy was taken
    assert (other.dataset, other.dataset_params) == ("other", {"size": 5})
    assert (ctx.dataset, ctx.dataset_params) == ("toy", {"size": 4})
    assert other._cache is ctx._cache and other.encoder is ctx.encoder


def test_loader_shuffles_the_same_way_for_the_same_seed():
    ctx = context(seed=1)
    data = Items(list(range(20)), [0] * 20)
    order = lambda loader: torch.cat([x for x, _ in loader]).tolist()  # noqa: E731
    first = order(ctx.loader(data, shuffle=True))
    assert first == order(ctx.loader(data, shuffle=True)) and sorted(first) == list(range(20)) and first != list(range(20))
    assert first != order(ctx.loader(data, shuffle=True, seed=2))
    assert order(ctx.loader(data)) == list(range(20))
    loader = ctx.loader(data)
    assert loader.batch_size == 3 and not loader.pin_memory


def test_features_are_computed_once_per_split_layer_and_data():
    ctx = context()
    feats, labels = ctx.features("train")
    # eval view x + 1 = [i + 1, 1], pooled (x1 + 2 x2) = i + 3
    assert torch.equal(feats.flatten(), torch.tensor([3.0, 4.0, 5.0, 6.0])) and labels.tolist() == [0, 1, 0, 1]
    again, _ = ctx.features("train")
    assert again is feats and len(ctx.registry.built) == 1
    ctx.with_data("toy", {"size": 4}).features("train")  # the same data, through another context: cached
    assert len(ctx.registry.built) == 1
    assert ctx.features("train", "prepool")[0].shape == (4, 4)
    assert ctx.features("test")[0][0].item() == 103.0
    assert ctx.features("train", params={"size": 2}, dataset="toy")[0].shape == (2, 1)
    assert len(ctx.registry.built) == 4


def test_features_check_the_labels_naming_the_dataset_and_split():
    ctx = context()
    with pytest.raises(ValueError, match=r"^dataset 'toy' \(train split\): item 0 has label 7, outside \[0, 2\)"):
        ctx.features("train", dataset="toy", params={"size": 3, "label": 7})


def test_check_labels_message():
    with pytest.raises(ValueError) as info:
        check_labels(torch.tensor([0, 3, -1, 2]), 3, "dataset 'x' (test split)")
    assert str(info.value) == ("dataset 'x' (test split): item 1 has label 3, outside [0, 3) (num_classes = 3); "
                               "2 item(s) in all. Fix the dataset's labels or its num_classes.")


def test_check_labels_passes_what_it_cannot_or_need_not_check():
    check_labels(torch.tensor([0, 1, 2]), 3, "ok")
    check_labels(torch.tensor([5, -4]), None, "no class count")
    check_labels(torch.tensor([[0, 1, 1], [1, 0, 0]]), 2, "multi-hot")
    check_labels(torch.tensor([], dtype=torch.long), 2, "empty")
