"""FLICKR-25K loader on a small tree in the official layout, written by the test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_image.flickr25k import LABELS, Flickr25k, flickr25k_split


def write_tree(root, n=30, unlabeled=(4, 9)):
    (root / "mirflickr").mkdir(parents=True)
    for i in range(1, n + 1):
        Image.new("RGB", (6, 5), (i * 8, 0, 0)).save(root / "mirflickr" / f"im{i}.jpg")
    ann = root / "mirflickr25k_annotations_v080"
    ann.mkdir()
    for k, label in enumerate(LABELS):  # image i carries labels i % 24 and (i + 1) % 24, except the unlabeled
        numbers = [i for i in range(1, n + 1) if i not in unlabeled and k in (i % 24, (i + 1) % 24)]
        (ann / f"{label}.txt").write_text("".join(f"{i}\n" for i in numbers))
        (ann / f"{label}_r1.txt").write_text("")
    return root


def test_layout_labels_and_split(tmp_path):
    root = write_tree(tmp_path / "flickr")
    kw = dict(root=str(root), num_queries=5, num_train=8, seed=1)
    query, database, train = (Flickr25k(s, **kw) for s in ("query", "database", "train"))
    assert len(query) == 5 and len(database) == 23 and len(train) == 8  # 30 images, 2 without labels dropped
    assert not set(query.image_numbers) & set(database.image_numbers)
    assert set(train.image_numbers) <= set(database.image_numbers)
    assert {4, 9}.isdisjoint(set(query.image_numbers) | set(database.image_numbers))
    assert np.array_equal(Flickr25k("test", **kw).image_numbers, query.image_numbers)
    image, label = query[0]
    number = int(query.image_numbers[0])
    assert image.mode == "RGB" and image.size == (6, 5)
    assert label.dtype == torch.long and label.shape == (24,)
    assert set(np.flatnonzero(label.numpy())) == {number % 24, (number + 1) % 24}
    assert Flickr25k.num_classes == 24 and query.multi_label
    assert len(Flickr25k("all", root=str(root), num_queries=5, num_train=8, drop_unlabeled=False)) == 30
    again = Flickr25k("query", **kw)
    assert np.array_equal(again.image_numbers, query.image_numbers)


def test_split_function_matches_the_evaluator_draw():
    from ssl_eval.hash_retrieval import random_retrieval_split

    parts = flickr25k_split(100, num_queries=20, num_train=30, seed=4)
    q, db, train = random_retrieval_split(100, 20, 30, seed=4)
    assert np.array_equal(parts["query"], q) and np.array_equal(parts["database"], db)
    assert np.array_equal(parts["train"], train)


def test_missing_files_name_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "none" / "mirflickr")):
        Flickr25k("train", root=str(tmp_path / "none"))
    root = tmp_path / "noann"
    (root / "mirflickr").mkdir(parents=True)
    Image.new("RGB", (2, 2)).save(root / "mirflickr" / "im1.jpg")
    with pytest.raises(FileNotFoundError, match="mirflickr25k_annotations_v080"):
        Flickr25k("train", root=str(root))
    with pytest.raises(ValueError, match="split must be one of"):
        Flickr25k("validation", root=str(write_tree(tmp_path / "ok")), num_queries=2, num_train=2)
