"""In-batch negatives: every view of every other example."""

from __future__ import annotations

import torch

from ssl_contrastive.in_batch import InBatchNegatives


def test_mask_excludes_views_of_the_same_example():
    source = InBatchNegatives()
    keys = torch.randn(6, 4)
    index = torch.tensor([7, 8, 9, 7, 8, 9])  # two views of three examples
    pool, valid = source.pool(keys, index)
    assert pool is keys
    expected = torch.tensor([[i % 3 != j % 3 for j in range(6)] for i in range(6)])
    assert torch.equal(valid, expected)
    assert valid.sum(1).tolist() == [4] * 6  # 2B - 2 negatives


def test_update_stores_nothing():
    source = InBatchNegatives()
    source.update(torch.randn(2, 4), torch.arange(2))
    assert source.state_dict() == {}
