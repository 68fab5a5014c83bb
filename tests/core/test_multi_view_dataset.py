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


class BatchNoiseViews(NoiseViews):
    """NoiseViews that can also make a batch at once: each example's noise drawn from its own seed."""

    def __init__(self, batched: bool):
        self.batched = batched

    def train_item(self, x):
        return x * 1.0

    def train_batch(self, items, seeds):
        from ssl_core.seeded_rng import seeded

        made = []
        for x, seed in zip(items, seeds):
            with seeded(seed):
                made.append([self.train(x) for _ in range(self.n_views)])
        return [torch.stack([m[v] for m in made]) for v in range(self.n_views)]


def test_batched_views_make_the_same_batch_as_per_item_views():
    base = [(torch.full((3,), float(i)), i % 2) for i in range(5)]
    keys = [(3, 2), (0, 2), (4, 2)]
    per_item = MultiViewDataset(base, BatchNoiseViews(batched=False), seed=1)
    batched = MultiViewDataset(base, BatchNoiseViews(batched=True), seed=1)
    assert not per_item.batched and batched.batched and len(batched[(3, 2)]) == 4  # the item carries its seed
    want, got = per_item.collate([per_item[k] for k in keys]), batched.collate([batched[k] for k in keys])
    assert len(got[0]) == 2 and got[0][0].shape == (3, 3)
    for a, b in zip(want[0], got[0]):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert torch.equal(want[1], got[1]) and torch.equal(got[1], torch.tensor([3, 0, 4]))
    assert torch.equal(want[2], got[2])
