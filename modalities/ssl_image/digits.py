"""scikit-learn's 8x8 handwritten digits: real data installed with the library, no download."""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image
from torch.utils.data import Dataset


class Digits(Dataset):
    """The 1,797 UCI handwritten digits (8x8, 16 grey levels) shipped with scikit-learn.

    The split is stratified and fixed (``test_fraction`` of each class, chosen
    with ``split_seed``), so every run and every evaluator sees the same test set.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        test_fraction: share of each class held out for testing.
        split_seed: seed of the train/test split.
    """

    num_classes = 10

    def __init__(self, split: Literal["train", "test"] = "train", test_fraction: float = 0.2, split_seed: int = 0):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
        from sklearn.datasets import load_digits

        digits = load_digits()
        rng = np.random.default_rng(split_seed)
        test = np.zeros(len(digits.target), dtype=bool)
        for c in range(self.num_classes):
            members = np.flatnonzero(digits.target == c)
            test[rng.choice(members, int(round(test_fraction * len(members))), replace=False)] = True
        keep = test if split == "test" else ~test
        self.images = (digits.images[keep] * (255.0 / 16.0)).round().astype(np.uint8)
        self.targets = digits.target[keep].astype(np.int64)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        return Image.fromarray(self.images[i], mode="L"), int(self.targets[i])
