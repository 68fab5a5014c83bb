"""MultiViewDataset: an example's views are a function of (seed, epoch, index) alone."""

from __future__ import annotations

import torch

from ssl_core.multi_view_dataset import MultiViewDataset


class NoiseViews:
    n_views = 2

    def train(self, x):
        return x + torch.rand(3)


def test_views_depend_on_seed_epoch_and_index_only():
    data = MultiViewDataset([(torch.zeros(3), 1), (torch.ones(3), 0)], NoiseViews(), seed=9)
    views, index, label = data[(1, 4)]
    assert index == 1 and label == 0 and len(views) == 2 and not torch.equal(views[0], views[1])
    torch.rand(5)  # whatever was drawn in between
    again, _, _ = data[(1, 4)]
    assert all(torch.equal(a, b) for a, b in zip(views, again))
    assert not torch.equal(data[(1, 5)][0][0], views[0]) and not torch.equal(data[(0, 4)][0][0] + 1, views[0])
    assert torch.equal(data[1][0][0], data[(1, 0)][0][0])  # a plain index is epoch 0
