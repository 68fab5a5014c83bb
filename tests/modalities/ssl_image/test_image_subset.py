"""Class-stratified, seeded subsets."""

from __future__ import annotations

from collections import Counter

import pytest

from ssl_image.image_dataset import ImageDataset
from ssl_image.subset import apply_subset, subset_indices

TARGETS = [c for c in range(5) for _ in range(20)] + [5] * 3  # five classes of 20, one of 3


def test_per_class_is_stratified_deterministic_and_capped():
    idx = subset_indices(TARGETS, per_class=4, seed=7)
    counts = Counter(TARGETS[i] for i in idx)
    assert counts == {0: 4, 1: 4, 2: 4, 3: 4, 4: 4, 5: 3}  # the small class keeps all it has
    assert idx == subset_indices(TARGETS, per_class=4, seed=7) and idx == sorted(idx)
    assert idx != subset_indices(TARGETS, per_class=4, seed=8)


def test_smaller_subsets_nest_in_larger_ones_with_one_seed():
    small, large = subset_indices(TARGETS, per_class=3, seed=1), subset_indices(TARGETS, per_class=10, seed=1)
    assert set(small) <= set(large)


def test_fraction_per_class_and_both():
    counts = Counter(TARGETS[i] for i in subset_indices(TARGETS, fraction=0.25))
    assert counts == {0: 5, 1: 5, 2: 5, 3: 5, 4: 5, 5: 1}  # round(0.75) = 1, and at least one
    counts = Counter(TARGETS[i] for i in subset_indices(TARGETS, fraction=0.5, per_class=6))
    assert counts[0] == 6 and counts[5] == 2


def test_unlabelled_items_take_a_fraction_not_per_class():
    targets = [-1] * 10 + [0] * 10
    assert len(subset_indices(targets, fraction=0.3)) == 6
    with pytest.raises(ValueError, match="per_class needs labels"):
        subset_indices(targets, per_class=2)


@pytest.mark.parametrize("kwargs, key", [({"fraction": 0.0}, "fraction"), ({"fraction": 1.1}, "fraction"),
                                         ({"per_class": 0}, "per_class")])
def test_out_of_range(kwargs, key):
    with pytest.raises(ValueError, match=f"^{key}"):
        subset_indices(TARGETS, **kwargs)


def test_apply_subset_keeps_the_dataset_face():
    base = [(None, t) for t in TARGETS]
    data = ImageDataset(base, TARGETS, [str(c) for c in range(6)], "toy", "/nowhere")
    sub = apply_subset(data, "train", per_class=2)
    assert len(sub) == 12 and sub.num_classes == 6 and sub.targets == [TARGETS[j] for j in sub.base.indices]
    assert apply_subset(data, "test", per_class=2) is data
    assert len(apply_subset(data, "test", per_class=2, subset_test=True)) == 12
    assert apply_subset(data, "train") is data
