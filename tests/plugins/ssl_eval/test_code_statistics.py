"""Code statistics on hand-built ReLU networks whose linear regions are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from ssl_core.eval_context import EvalContext
from ssl_eval.code_statistics import CodeStatistics, activation_patterns, code_statistics


class HandNet(nn.Module):
    """2-D input; layer net.0 = identity weights (units on in x1 > 0, x2 > 0): 4 quadrant regions;
    layer net.2 = one unit on iff h1 > h2, which splits only the (on, on) quadrant: 5 regions in all."""

    feature_dim = 1

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1), nn.ReLU())
        with torch.no_grad():
            self.net[0].weight.copy_(torch.eye(2))
            self.net[0].bias.zero_()
            self.net[2].weight.copy_(torch.tensor([[1.0, -1.0]]))
            self.net[2].bias.zero_()

    def forward(self, x):
        return self.net(x)


def grid(n=8):
    axis = torch.linspace(-1, 1, n) + 0.013  # off the region boundaries
    return torch.cartesian_prod(axis, axis)


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, xs):
        self.xs = xs

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return self.xs[i], 0


class StubRegistry:
    def __init__(self, data):
        self.data = data

    def build(self, kind, name, params, split):
        return self.data


class Views:
    def eval(self, x):
        return x

    train = eval


def test_four_quadrant_regions_of_two_relu_units():
    net = HandNet()
    patterns = activation_patterns({"net.0": net.net[0], "net.1": net.net[1]}, net, [grid()[:30], grid()[30:]])
    assert patterns["net.0"].shape == (64, 2)
    assert np.array_equal(patterns["net.0"], patterns["net.1"])  # pre-activation sign == ReLU on/off
    stats, methods = code_statistics(patterns["net.0"])
    assert stats["distinct_codewords"] == 4
    assert stats["min_hamming_distance"] == 0 and "share" in methods["min_hamming_distance"]
    assert stats["min_distance_distinct_codewords"] == 1 and methods["min_distance_distinct_codewords"] == "exact (all pairs)"
    assert stats["bit_on_mean"] == 0.5 and stats["bit_entropy_mean"] == pytest.approx(1.0)
    assert stats["bit_balance_max_deviation"] == 0.0 and stats["constant_bits"] == 0
    assert stats["codeword_entropy"] == pytest.approx(2.0)  # 4 equally filled regions
    # the 4 distinct codewords {00, 01, 10, 11}: pairwise distances 1,1,2,2,1,1 -> mean 4/3
    unique_stats, _ = code_statistics(np.array(list(itertools.product([0, 1], repeat=2)), dtype=bool))
    assert unique_stats["mean_hamming_distance"] == pytest.approx(4 / 3)
    assert unique_stats["min_hamming_distance"] == 1


def test_mean_distance_formula_equals_all_pairs_and_min_methods():
    rng = np.random.default_rng(0)
    bits = rng.random((60, 10)) < 0.3
    pairs = [(bits[i] != bits[j]).sum() for i in range(60) for j in range(i + 1, 60)]
    stats, methods = code_statistics(bits, exact_max=1000)
    assert stats["mean_hamming_distance"] == pytest.approx(np.mean(pairs), abs=1e-12)
    unique = np.unique(bits, axis=0)
    assert stats["distinct_codewords"] == len(unique)
    exact = min((unique[i] != unique[j]).sum() for i in range(len(unique)) for j in range(i + 1, len(unique)))
    assert stats["min_distance_distinct_codewords"] == exact
    sub, sub_methods = code_statistics(unique, exact_max=10, seed=1)
    assert sub["min_hamming_distance"] >= exact and "upper bound" in sub_methods["min_hamming_distance"]


def test_evaluator_hooks_layers_and_combined_regions(tmp_path):
    net = HandNet()
    ctx = EvalContext(encoder=net, registry=StubRegistry(ListDataset(list(grid()))), dataset="grid", dataset_params={},
                      views=Views(), run_dir=tmp_path, batch_size=16)
    result = CodeStatistics(layers=("net.0", "net.2"), combined=True).evaluate(ctx)
    m = result["metrics"]
    assert m["net.0/distinct_codewords"] == 4
    assert m["net.2/distinct_codewords"] == 2
    assert m["combined/distinct_codewords"] == 5  # linear regions of the whole network reached by the grid
    assert m["combined/code_bits"] == 3
    assert result["protocol"]["layers"] == ["net.0", "net.2"]
    assert net.training  # mode restored
    with pytest.raises(ValueError, match="no module named 'nope'"):
        CodeStatistics(layers=("nope",)).evaluate(ctx)


def test_embedding_layer_uses_the_objective(tmp_path):
    class Objective(nn.Module):
        def embed(self, x):
            return x - 0.5

    data = ListDataset([torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0])])
    ctx = EvalContext(encoder=HandNet(), registry=StubRegistry(data), dataset="d", dataset_params={}, views=Views(),
                      run_dir=tmp_path, objective=Objective())
    m = CodeStatistics().evaluate(ctx)["metrics"]
    assert m["embedding/distinct_codewords"] == 2 and m["embedding/min_hamming_distance"] == 0
    assert m["embedding/min_distance_distinct_codewords"] == 2
