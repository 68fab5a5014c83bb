"""image_folder on the shared CIFAR-10 JPEG tree and on small trees with faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssl_image.image_dataset import CorruptImageError
from ssl_image.image_folder import image_folder


@pytest.fixture(scope="module")
def cifar_jpg_test(request):
    root = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "cifar10-jpg"
    if not root.is_dir():
        pytest.skip(f"real data not found at {root}")
    return root, image_folder("test", root=str(root))  # scans the 10,000-file test tree once


def test_reads_the_shared_cifar10_jpg_tree(cifar_jpg_test):
    _, data = cifar_jpg_test
    assert len(data) == 10_000 and data.num_classes == 10
    assert data.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for i in (0, 4321, 9999):
        x, y = data[i]
        assert isinstance(x, Image.Image) and x.mode == "RGB" and x.size == (32, 32)
        assert y == data.targets[i] == data.classes.index(Path(data.base.samples[i][0]).parent.name)


def test_subset_of_the_test_split(cifar_jpg_test):
    root, _ = cifar_jpg_test
    sub = image_folder("test", root=str(root), per_class=5, subset_test=True, subset_seed=3)
    assert len(sub) == 50 and sorted(set(sub.targets)) == list(range(10))
    assert sub[0][0].size == (32, 32)


def _tree(root: Path, classes=("a", "b"), n: int = 3) -> None:
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(np.full((8, 8, 3), 40 * i, dtype=np.uint8)).save(root / split / c / f"{i}.png")


def test_corrupt_image_is_reported_by_path(tmp_path):
    _tree(tmp_path)
    bad = tmp_path / "train" / "b" / "9.jpg"
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(bad)
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    (tmp_path / "train" / "a" / "x.jpg").write_bytes(b"not an image")
    data = image_folder("train", root=str(tmp_path))
    assert data[0][0].mode == "RGB"
    for path in (bad, tmp_path / "train" / "a" / "x.jpg"):
        with pytest.raises(CorruptImageError, match=str(path)):
            data[data.base.samples.index((str(path), data.classes.index(path.parent.name)))]


def test_grey_png_is_rgb(tmp_path):
    _tree(tmp_path, n=1)
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8), mode="L").save(tmp_path / "train" / "a" / "0.png")
    assert image_folder("train", root=str(tmp_path))[0][0].mode == "RGB"


def test_empty_class_folder_is_named(tmp_path):
    _tree(tmp_path)
    (tmp_path / "train" / "c").mkdir()
    (tmp_path / "test" / "c").mkdir()
    (tmp_path / "train" / "c" / "notes.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=r"hold no image.*train[/\\]c"):
        image_folder("train", root=str(tmp_path))


def test_missing_split_folder_gives_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="<class name>"):
        image_folder("train", root=str(tmp_path))


def test_splits_with_different_classes_are_refused(tmp_path):
    _tree(tmp_path)
    (tmp_path / "test" / "b").rename(tmp_path / "test" / "z")
    with pytest.raises(ValueError, match="differ"):
        image_folder("test", root=str(tmp_path))


def test_val_folder_for_imagenet_trees(tmp_path):
    _tree(tmp_path)
    (tmp_path / "test").rename(tmp_path / "val")
    assert len(image_folder("test", root=str(tmp_path), test_dir="val")) == 6
