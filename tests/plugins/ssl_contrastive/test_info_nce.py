"""info_nce against a loop over anchors, with and without a keep mask."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_contrastive.info_nce import info_nce


def loop_info_nce(positive, negatives, keep, t):
    losses = []
    for b in range(positive.shape[0]):
        pos = positive[b].item() / t
        denominator = math.exp(pos)
        for j in range(negatives.shape[1]):
            if keep is None or keep[b, j]:
                denominator += math.exp(negatives[b, j].item() / t)
        losses.append(-(pos - math.log(denominator)))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("t", [0.07, 0.5, 1.0])
def test_matches_loop(t):
    gen = torch.Generator().manual_seed(0)
    positive = torch.rand(4, generator=gen) * 2 - 1
    negatives = torch.rand(4, 7, generator=gen) * 2 - 1
    keep = torch.rand(4, 7, generator=gen) > 0.4
    assert info_nce(positive, negatives, None, t).item() == pytest.approx(loop_info_nce(positive, negatives, None, t), rel=1e-5)
    assert info_nce(positive, negatives, keep, t).item() == pytest.approx(loop_info_nce(positive, negatives, keep, t), rel=1e-5)


def test_all_true_keep_equals_no_keep_and_dropped_columns_equal_masked():
    positive, negatives = torch.randn(3), torch.randn(3, 5)
    all_true = torch.ones(3, 5, dtype=torch.bool)
    assert torch.equal(info_nce(positive, negatives, all_true, 0.1), info_nce(positive, negatives, None, 0.1))
    keep = torch.zeros(3, 5, dtype=torch.bool)
    keep[:, [1, 3]] = True
    assert torch.allclose(info_nce(positive, negatives, keep, 0.1), info_nce(positive, negatives[:, [1, 3]], None, 0.1))


def test_positive_stays_in_denominator():
    # no negative kept: the loss is -(p - log(exp(p))) = 0, never -inf or nan
    positive, negatives = torch.randn(2), torch.randn(2, 4)
    assert info_nce(positive, negatives, torch.zeros(2, 4, dtype=torch.bool), 0.07).item() == pytest.approx(0.0, abs=1e-6)
    assert info_nce(positive, torch.zeros(2, 0), None, 0.07).item() == pytest.approx(0.0, abs=1e-6)
    # an empty pool with a (necessarily empty) keep mask, e.g. a ring over a still-empty queue
    assert info_nce(positive, torch.zeros(2, 0), torch.zeros(2, 0, dtype=torch.bool), 0.07).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_ignores_dropped_negatives():
    positive = torch.zeros(1)
    negatives = torch.tensor([[0.5, 0.2]], requires_grad=True)
    keep = torch.tensor([[True, False]])
    info_nce(positive, negatives, keep, 1.0).backward()
    assert negatives.grad[0, 1] == 0 and negatives.grad[0, 0] > 0
