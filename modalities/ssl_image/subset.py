"""Deterministic, class-stratified subsets of a labelled dataset (a fraction and/or a count per class)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from torch.utils.data import Subset

from ssl_image.image_dataset import ImageDataset

TRAIN_SPLITS = ("train", "unlabeled", "train+unlabeled")
"""Splits a subset applies to unless ``subset_test`` is set."""


def check_subset_params(fraction: float, per_class: int | None) -> None:
    """Raise ``ValueError`` naming the parameter when ``fraction`` or ``per_class`` is out of range."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be >= 1 (or null for all), got {per_class}")


def subset_indices(targets: Sequence[int], fraction: float = 1.0, per_class: int | None = None,
                   seed: int = 0) -> list[int]:
    """Indices of a class-stratified random subset, sorted.

    Each class keeps ``round(fraction * n_c)`` of its ``n_c`` items (at least
    one), capped at ``per_class``; a class with fewer items keeps them all.
    The choice depends only on ``targets`` and ``seed``: each class's items
    are shuffled once with a generator seeded by ``seed`` and the first ones
    kept, so with the same seed a smaller subset is contained in a larger one
    (e.g. the 500-per-class CIFAR-10 training subset of the NAC hashing
    protocol, Yang et al. 2019, within the 1,000-per-class one). Unlabelled
    items (label -1, STL-10) form a group of their own for ``fraction``.

    Raises:
        ValueError: a parameter out of range, or ``per_class`` on unlabelled items.
    """
    check_subset_params(fraction, per_class)
    targets = np.asarray(targets, dtype=np.int64)
    if per_class is not None and (targets < 0).any():
        raise ValueError(f"per_class needs labels, but {(targets < 0).sum()} items are unlabelled (label -1); "
                         f"use fraction instead")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(targets):
        members = np.flatnonzero(targets == c)
        order = rng.permutation(members)
        k = max(1, int(round(fraction * len(members))))
        if per_class is not None:
            k = min(k, per_class)
        keep.append(order[:k])
    return sorted(int(i) for i in np.concatenate(keep)) if keep else []


def apply_subset(dataset: ImageDataset, split: str, fraction: float = 1.0, per_class: int | None = None,
                 seed: int = 0, subset_test: bool = False) -> ImageDataset:
    """``dataset`` reduced to :func:`subset_indices`, for training splits (and the test split if ``subset_test``).

    Returns ``dataset`` itself when nothing is to be dropped.
    """
    check_subset_params(fraction, per_class)
    if (fraction == 1.0 and per_class is None) or (split not in TRAIN_SPLITS and not subset_test):
        return dataset
    indices = subset_indices(dataset.targets, fraction, per_class, seed)
    return ImageDataset(Subset(dataset, indices), [dataset.targets[i] for i in indices], dataset.classes,
                        f"{dataset.name} subset", dataset.root)
