"""Weighted kNN against a hand computation."""

from __future__ import annotations

import math

import torch

from ssl_eval.knn import KNN, weighted_knn_scores

from eval_fixtures import blobs_context


def test_weighted_votes_by_hand():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.2]])
    scores = weighted_knn_scores(train, labels, test, n_classes=2, k=2, temperature=0.5)
    cos = [1.0 / math.sqrt(1.04), 0.2 / math.sqrt(1.04), 1.2 / math.sqrt(2 * 1.04)]
    # the two nearest are item 0 (class 0) and item 2 (class 1)
    expected = torch.tensor([[math.exp(cos[0] / 0.5), math.exp(cos[2] / 0.5)]])
    assert torch.allclose(scores, expected)


def test_knn_on_separable_blobs(tmp_path):
    result = KNN(k=5).evaluate(blobs_context(tmp_path))
    assert result["metrics"]["top1"] > 0.9 and result["protocol"]["k"] == 5
