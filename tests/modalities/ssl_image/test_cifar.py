"""CIFAR-10/100 loaders on tiny trees written here in the official python-pickle layout."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssl_image.cifar import cifar10, cifar100


def _write_batch(path: Path, labels: list[int], key: str = "labels", seed: int = 0) -> np.ndarray:
    data = np.random.default_rng(seed).integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    with open(path, "wb") as f:
        pickle.dump({"batch_label": path.name, key: labels, "data": data, "filenames": [b"x.png"] * len(labels)}, f)
    return data


def write_cifar10(root: Path, per_batch: int = 20) -> np.ndarray:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    first = None
    for b in range(1, 6):
        data = _write_batch(folder / f"data_batch_{b}", [i % 10 for i in range(per_batch)], seed=b)
        first = data if first is None else first
    _write_batch(folder / "test_batch", [i % 10 for i in range(10)], seed=9)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch}, f)
    return first


def test_cifar10_reads_the_official_layout(tmp_path):
    first = write_cifar10(tmp_path)
    train = cifar10("train", root=str(tmp_path))
    test = cifar10("test", root=str(tmp_path))
    assert len(train) == 100 and len(test) == 10
    assert train.num_classes == 10 and train.classes[0] == "airplane"
    x, y = train[3]
    assert isinstance(x, Image.Image) and x.mode == "RGB" and x.size == (32, 32) and y == 3
    pixels = np.asarray(x)  # CIFAR stores planes: R (1024), G, B
    assert pixels[0, 0, 0] == first[3, 0] and pixels[0, 0, 1] == first[3, 1024]


def test_cifar10_subset_of_the_training_split_only(tmp_path):
    write_cifar10(tmp_path)
    train = cifar10("train", root=str(tmp_path), per_class=3, subset_seed=1)
    assert len(train) == 30 and sorted(train.targets) == sorted(list(range(10)) * 3)
    assert len(cifar10("test", root=str(tmp_path), per_class=3)) == 10
    assert len(cifar10("test", root=str(tmp_path), per_class=0 + 1, subset_test=True)) == 10
    assert len(cifar10("train", root=str(tmp_path), fraction=0.5)) == 50


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _write_batch(folder / "train", [i % 100 for i in range(200)], key="fine_labels")
    _write_batch(folder / "test", [i % 100 for i in range(100)], key="fine_labels")
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": []}, f)
    train = cifar100("train", root=str(tmp_path))
    assert len(train) == 200 and train.num_classes == 100 and train[150][1] == 50


def test_missing_cifar_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        cifar10("train", root=str(tmp_path))
    message = str(info.value)
    assert str((tmp_path / "cifar-10-batches-py").resolve()) in message and "download: true" in message


def test_verify_uses_torchvision_md5_check(tmp_path):
    write_cifar10(tmp_path)
    with pytest.raises(RuntimeError, match="md5"):
        cifar10("train", root=str(tmp_path), verify=True)


def test_bad_split_and_subset_params(tmp_path):
    write_cifar10(tmp_path)
    with pytest.raises(ValueError, match="^fraction"):
        cifar10("train", root=str(tmp_path), fraction=1.5)
    with pytest.raises(ValueError, match="^split"):
        cifar10("val", root=str(tmp_path))
