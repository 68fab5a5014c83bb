"""Training items ``(views, index, label)`` made from a dataset of ``(x, label)``."""

from __future__ import annotations

from torch.utils.data import Dataset, default_collate

from ssl_core.seeded_rng import item_seed, seeded


class MultiViewDataset(Dataset):
    """Applies ``views.train`` ``views.n_views`` times to each example.

    Keys are ``(index, epoch)`` pairs (from :class:`EpochSampler`): the
    random views depend only on (seed, epoch, index), so a resumed run and an
    uninterrupted one see exactly the same views.

    Views whose ``batched`` attribute is true make a batch's views at once:
    an item is then ``(views.train_item(x), index, label, seed)`` and
    :meth:`collate` (the loader's ``collate_fn``) calls
    ``views.train_batch(items, seeds)``, which draws example i's views from
    ``seeds[i]``; the batch is the same ``(views, index, label)`` either way.
    """

    def __init__(self, base: Dataset, views, seed: int):
        self.base = base
        self.views = views
        self.seed = seed
        self.batched = bool(getattr(views, "batched", False))

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key):
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        x, label = self.base[index]
        seed = item_seed(self.seed, epoch, index)
        if self.batched:
            return self.views.train_item(x), index, label, seed
        with seeded(seed):
            views = [self.views.train(x) for _ in range(self.views.n_views)]
        return views, index, label

    def collate(self, items: list):
        """A batch ``(views, index, label)`` from items of :meth:`__getitem__`."""
        if not self.batched:
            return default_collate(items)
        images, indices, labels, seeds = zip(*items)
        return self.views.train_batch(list(images), list(seeds)), default_collate(indices), default_collate(labels)
