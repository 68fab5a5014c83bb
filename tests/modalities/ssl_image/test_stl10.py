"""STL-10 loader on a tiny tree written here in the official binary layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssl_image.stl10 import stl10


def write_stl10(root: Path, n_train: int = 20, n_test: int = 10, n_unlabeled: int = 7) -> None:
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        rng.integers(0, 256, n * 3 * 96 * 96, dtype=np.uint8).tofile(folder / f"{name}_X.bin")
        if name != "unlabeled":
            (np.arange(n) % 10 + 1).astype(np.uint8).tofile(folder / f"{name}_y.bin")  # labels are 1-based
    (folder / "class_names.txt").write_text("\n".join(
        ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]) + "\n")


def test_labelled_splits(tmp_path):
    write_stl10(tmp_path)
    train, test = stl10("train", root=str(tmp_path)), stl10("test", root=str(tmp_path))
    assert len(train) == 20 and len(test) == 10 and train.num_classes == 10
    x, y = train[12]
    assert isinstance(x, Image.Image) and x.size == (96, 96) and x.mode == "RGB" and y == 2
    assert train.classes[7] == "monkey"


def test_unlabelled_splits_for_pretraining(tmp_path):
    write_stl10(tmp_path)
    unlabeled = stl10("train", root=str(tmp_path), train_split="unlabeled")
    assert len(unlabeled) == 7 and set(unlabeled.targets) == {-1} and unlabeled.num_classes == 10
    both = stl10("train", root=str(tmp_path), train_split="train+unlabeled")
    assert len(both) == 27 and both.targets.count(-1) == 7
    assert len(stl10("train", root=str(tmp_path), train_split="unlabeled", fraction=0.5)) == 4
    with pytest.raises(ValueError, match="per_class needs labels"):
        stl10("train", root=str(tmp_path), train_split="unlabeled", per_class=2)


def test_only_the_split_files_are_needed(tmp_path):
    write_stl10(tmp_path)
    (tmp_path / "stl10_binary" / "unlabeled_X.bin").unlink()
    assert len(stl10("test", root=str(tmp_path))) == 10
    with pytest.raises(FileNotFoundError, match="unlabeled_X.bin"):
        stl10("train", root=str(tmp_path), train_split="unlabeled")


def test_missing_stl10_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        stl10("train", root=str(tmp_path))
    assert str((tmp_path / "stl10_binary").resolve()) in str(info.value) and "download: true" in str(info.value)
