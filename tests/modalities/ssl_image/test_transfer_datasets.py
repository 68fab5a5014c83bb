"""Transfer dataset wrappers on tiny trees written here in each dataset's official layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssl_image import transfer_datasets as td


def _jpg(path: Path, value: int = 90, size=(12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, dtype=np.uint8)).save(path)


def _idx(path: Path, array: np.ndarray, magic: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("factory, folder", [(td.mnist, "MNIST"), (td.fashion_mnist, "FashionMNIST")])
def test_mnist_like_from_idx_files_as_rgb(tmp_path, factory, folder):
    raw = tmp_path / folder / "raw"
    for prefix, n in (("train", 30), ("t10k", 10)):
        _idx(raw / f"{prefix}-images-idx3-ubyte", np.random.default_rng(0).integers(0, 256, (n, 28, 28)), 2051)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, 2049)
    train = factory("train", root=str(tmp_path))
    assert len(train) == 30 and train.num_classes == 10
    x, y = train[13]
    assert x.mode == "RGB" and x.size == (28, 28) and y == 3
    r, g, b = (np.asarray(x)[..., c] for c in range(3))
    assert (r == g).all() and (g == b).all()
    assert len(factory("test", root=str(tmp_path))) == 10
    assert len(factory("train", root=str(tmp_path), per_class=2)) == 20


def test_dtd_trainval_joins_train_and_val(tmp_path):
    base = tmp_path / "dtd" / "dtd"
    for split, names in (("train", ["banded/a.jpg", "dotted/b.jpg"]), ("val", ["banded/c.jpg", "dotted/d.jpg"]),
                         ("test", ["banded/e.jpg", "dotted/f.jpg"])):
        (base / "labels").mkdir(parents=True, exist_ok=True)
        (base / "labels" / f"{split}1.txt").write_text("\n".join(names) + "\n")
        for i, name in enumerate(names):
            _jpg(base / "images" / name, 30 * i)
    train = td.dtd("train", root=str(tmp_path))
    assert len(train) == 4 and train.classes == ["banded", "dotted"] and train.targets == [0, 1, 0, 1]
    assert train[3][0].mode == "RGB"
    assert len(td.dtd("train", root=str(tmp_path), train_split="train")) == 2
    assert len(td.dtd("test", root=str(tmp_path))) == 2


def test_dtd_corrupt_file_named_through_trainval(tmp_path):
    base = tmp_path / "dtd" / "dtd"
    (base / "labels").mkdir(parents=True)
    (base / "labels" / "train1.txt").write_text("banded/a.jpg\n")
    (base / "labels" / "val1.txt").write_text("banded/b.jpg\n")
    _jpg(base / "images" / "banded" / "a.jpg")
    (base / "images" / "banded" / "b.jpg").write_bytes(b"garbage")
    with pytest.raises(OSError, match=r"banded[/\\]b\.jpg"):
        td.dtd("train", root=str(tmp_path))[1]


def test_gtsrb_train_and_test(tmp_path):
    base = tmp_path / "gtsrb"
    for c in (0, 1):
        for i in range(2):
            path = base / "GTSRB" / "Training" / f"{c:05d}" / f"{i}.ppm"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (9, 9), (c * 100, 0, 0)).save(path)
    test_dir = base / "GTSRB" / "Final_Test" / "Images"
    test_dir.mkdir(parents=True)
    Image.new("RGB", (9, 9)).save(test_dir / "00000.ppm")
    (base / "GT-final_test.csv").write_text("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
                                            "00000.ppm;9;9;0;0;8;8;1\n")
    train = td.gtsrb("train", root=str(tmp_path))
    assert len(train) == 4 and train.num_classes == 43 and sorted(train.targets) == [0, 0, 1, 1]
    test = td.gtsrb("test", root=str(tmp_path))
    assert len(test) == 1 and test[0][1] == 1


def test_fgvc_aircraft_variant_trainval(tmp_path):
    data = tmp_path / "fgvc-aircraft-2013b" / "data"
    data.mkdir(parents=True)
    (data / "variants.txt").write_text("707-320\nA300B4\n")
    (data / "images_variant_trainval.txt").write_text("0001 707-320\n0002 A300B4\n0003 A300B4\n")
    (data / "images_variant_test.txt").write_text("0004 707-320\n")
    for i in range(1, 5):
        _jpg(data / "images" / f"{i:04d}.jpg")
    train = td.fgvc_aircraft("train", root=str(tmp_path))
    assert len(train) == 3 and train.targets == [0, 1, 1] and train.classes == ["707-320", "A300B4"]
    assert train[0][0].mode == "RGB"
    assert len(td.fgvc_aircraft("test", root=str(tmp_path))) == 1


def test_flowers102_from_mat_files(tmp_path, monkeypatch):
    from scipy.io import savemat
    import torchvision.datasets.flowers102 as tv_flowers

    # torchvision checks the md5 of the two .mat files; ours are stand-ins written here
    monkeypatch.setattr(tv_flowers, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    base = tmp_path / "flowers-102"
    for i in range(1, 7):
        _jpg(base / "jpg" / f"image_{i:05d}.jpg")
    savemat(base / "imagelabels.mat", {"labels": np.array([[1, 2, 1, 2, 1, 2]])})
    savemat(base / "setid.mat", {"trnid": np.array([[1, 2]]), "valid": np.array([[3, 4]]),
                                 "tstid": np.array([[5, 6]])})
    train = td.flowers102("train", root=str(tmp_path))
    assert len(train) == 4 and train.targets == [0, 1, 0, 1] and train.num_classes == 102
    assert len(td.flowers102("test", root=str(tmp_path))) == 2


@pytest.mark.parametrize("factory, folder", [
    (td.mnist, "MNIST/raw"), (td.fashion_mnist, "FashionMNIST/raw"), (td.dtd, "dtd/dtd"), (td.gtsrb, "gtsrb"),
    (td.fgvc_aircraft, "fgvc-aircraft-2013b"), (td.flowers102, "flowers-102"),
])
def test_absent_dataset_is_a_file_not_found_naming_the_folder(tmp_path, factory, folder):
    with pytest.raises(FileNotFoundError) as info:
        factory("train", root=str(tmp_path))
    assert str((tmp_path / folder).resolve()) in str(info.value)
    assert "download: true" in str(info.value)
