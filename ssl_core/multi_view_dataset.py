"""Training items ``(views, index, label)`` made from a dataset of ``(x, label)``."""

from __future__ import annotations

from torch.utils.data import Dataset

from ssl_core.seeded_rng import item_seed, seeded


class MultiViewDataset(Dataset):
    """Applies ``views.train`` ``views.n_views`` times to each example.

    Keys are ``(index, epoch)`` pairs (from :class:`EpochSampler`): the
    random views depend only on (seed, epoch, index), so a resumed run and an
    uninterrupted one see exactly the same views.
    """

    def __init__(self, base: Dataset, views, seed: int):
        self.base = base
        self.views = views
        self.seed = seed

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key):
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        x, label = self.base[index]
        with seeded(item_seed(self.seed, epoch, index)):
            views = [self.views.train(x) for _ in range(self.views.n_views)]
        return views, index, label
