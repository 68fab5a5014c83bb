"""Thin wrappers of torchvision's loaders for the CNCE transfer datasets (Table 3), each in its official layout.

Every wrapper returns an :class:`~ssl_image.image_dataset.ImageDataset` (RGB
PIL images, so grey MNIST becomes three channels), takes the subset
parameters of :mod:`ssl_image.subset`, and raises ``FileNotFoundError`` naming
the folder it looked in when the data is absent (a transfer evaluator reports
that task as skipped). ``download: true`` uses torchvision's own download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal

from torch.utils.data import ConcatDataset, Dataset

from ssl_image.image_dataset import ImageDataset, dataset_not_found
from ssl_image.subset import apply_subset, check_subset_params

Split = Literal["train", "test"]


def _tvd():
    """``torchvision.datasets``, imported when a dataset is built (the plugin loads without torchvision)."""
    from torchvision import datasets

    return datasets


def _open(name: str, folder: Path, expected: str, build: Callable[[], Dataset]) -> Dataset:
    """``build()``, turning torchvision's "Dataset not found" ``RuntimeError`` into a ``FileNotFoundError``."""
    try:
        return build()
    except RuntimeError as exc:
        if "not found" in str(exc).lower():
            raise dataset_not_found(name, folder, expected) from exc
        raise


def _concat(parts: list[Dataset]) -> ConcatDataset:
    """Train and val as one training split, keeping the file list for error messages."""
    joined = ConcatDataset(parts)
    joined._image_files = [f for p in parts for f in p._image_files]
    return joined


def _finish(name: str, base: Dataset, targets, classes, folder: Path, split: str, fraction: float,
            per_class: int | None, subset_seed: int, subset_test: bool) -> ImageDataset:
    data = ImageDataset(base, targets, classes, name, folder)
    return apply_subset(data, split, fraction, per_class, subset_seed, subset_test)


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def fgvc_aircraft(split: Split = "train", root: str = "data", download: bool = False,
                  annotation_level: Literal["variant", "family", "manufacturer"] = "variant",
                  train_split: Literal["train", "trainval"] = "trainval", fraction: float = 1.0,
                  per_class: int | None = None, subset_seed: int = 0, subset_test: bool = False) -> ImageDataset:
    """FGVC-Aircraft (Maji et al., 2013): 10,000 aircraft photos, 100 variants (or 70 families, 30 manufacturers).

    Layout: ``root/fgvc-aircraft-2013b/data/{images/, images_<level>_<split>.txt, <level>s.txt}``.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``fgvc-aircraft-2013b``.
        download: fetch it with torchvision if absent.
        annotation_level: ``"variant"`` (100 classes), ``"family"`` or ``"manufacturer"``.
        train_split: official ``"train"`` or ``"trainval"`` (train + val) for ``split: train``.
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    check_subset_params(fraction, per_class)
    _check_split(split)
    folder = Path(root).expanduser() / "fgvc-aircraft-2013b"
    which = train_split if split == "train" else "test"
    data = _open("fgvc_aircraft", folder, "the extracted fgvc-aircraft-2013b.tar.gz",
                 lambda: _tvd().FGVCAircraft(str(Path(root).expanduser()), split=which,
                                          annotation_level=annotation_level, download=download))
    return _finish("fgvc_aircraft", data, data._labels, data.classes, folder, split, fraction, per_class,
                   subset_seed, subset_test)


def dtd(split: Split = "train", root: str = "data", download: bool = False, partition: int = 1,
        train_split: Literal["train", "trainval"] = "trainval", fraction: float = 1.0, per_class: int | None = None,
        subset_seed: int = 0, subset_test: bool = False) -> ImageDataset:
    """DTD, the Describable Textures Dataset (Cimpoi et al., 2014): 5,640 images of 47 textures.

    Layout: ``root/dtd/dtd/{images/<class>/*.jpg, labels/{train,val,test}<partition>.txt}``.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``dtd/dtd``.
        download: fetch it with torchvision if absent.
        partition: which of the 10 official splits (1-10).
        train_split: official ``"train"`` or ``"trainval"`` (train + val) for ``split: train``.
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    check_subset_params(fraction, per_class)
    _check_split(split)
    if not 1 <= partition <= 10:
        raise ValueError(f"partition must lie in 1..10, got {partition}")
    folder = Path(root).expanduser() / "dtd" / "dtd"
    parts = (["train", "val"] if train_split == "trainval" else ["train"]) if split == "train" else ["test"]
    loaded = [_open("dtd", folder, "the extracted dtd-r1.0.1.tar.gz",
                    lambda p=p: _tvd().DTD(str(Path(root).expanduser()), split=p, partition=partition,
                                        download=download)) for p in parts]
    base = _concat(loaded) if len(loaded) > 1 else loaded[0]
    targets = [t for d in loaded for t in d._labels]
    return _finish("dtd", base, targets, loaded[0].classes, folder, split, fraction, per_class, subset_seed,
                   subset_test)


def flowers102(split: Split = "train", root: str = "data", download: bool = False,
               train_split: Literal["train", "trainval"] = "trainval", fraction: float = 1.0,
               per_class: int | None = None, subset_seed: int = 0, subset_test: bool = False) -> ImageDataset:
    """Oxford 102 Flowers ("VGG Flower", Nilsback & Zisserman, 2008): 8,189 images of 102 flower species.

    Layout: ``root/flowers-102/{jpg/image_NNNNN.jpg, imagelabels.mat, setid.mat}``.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``flowers-102``.
        download: fetch it with torchvision if absent.
        train_split: official ``"train"`` or ``"trainval"`` (train + val, 2,040 images) for ``split: train``.
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    check_subset_params(fraction, per_class)
    _check_split(split)
    folder = Path(root).expanduser() / "flowers-102"
    parts = (["train", "val"] if train_split == "trainval" else ["train"]) if split == "train" else ["test"]
    loaded = [_open("flowers102", folder, "jpg/, imagelabels.mat and setid.mat",
                    lambda p=p: _tvd().Flowers102(str(Path(root).expanduser()), split=p, download=download))
              for p in parts]
    base = _concat(loaded) if len(loaded) > 1 else loaded[0]
    targets = [t for d in loaded for t in d._labels]
    return _finish("flowers102", base, targets, _tvd().Flowers102.classes, folder, split, fraction, per_class,
                   subset_seed, subset_test)


def gtsrb(split: Split = "train", root: str = "data", download: bool = False, fraction: float = 1.0,
          per_class: int | None = None, subset_seed: int = 0, subset_test: bool = False) -> ImageDataset:
    """GTSRB, the German Traffic Sign Recognition Benchmark (Stallkamp et al., 2012): 43 sign classes.

    Layout: ``root/gtsrb/GTSRB/Training/<class>/*.ppm`` and
    ``root/gtsrb/{GTSRB/Final_Test/Images/*.ppm, GT-final_test.csv}``.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``gtsrb``.
        download: fetch it with torchvision if absent.
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    check_subset_params(fraction, per_class)
    _check_split(split)
    folder = Path(root).expanduser() / "gtsrb"
    data = _open("gtsrb", folder, "GTSRB/Training/<class>/*.ppm and GTSRB/Final_Test/Images with GT-final_test.csv",
                 lambda: _tvd().GTSRB(str(Path(root).expanduser()), split=split, download=download))
    return _finish("gtsrb", data, [t for _, t in data._samples], [str(c) for c in range(43)], folder, split,
                   fraction, per_class, subset_seed, subset_test)


def _mnist_like(cls, name: str, split: str, root: str, download: bool, fraction: float, per_class: int | None,
                subset_seed: int, subset_test: bool) -> ImageDataset:
    check_subset_params(fraction, per_class)
    _check_split(split)
    folder = Path(root).expanduser() / cls.__name__ / "raw"
    data = _open(name, folder, "the four idx files (train-images-idx3-ubyte, ...), uncompressed",
                 lambda: cls(str(Path(root).expanduser()), train=split == "train", download=download))
    return _finish(name, data, data.targets.tolist(), data.classes, folder, split, fraction, per_class, subset_seed,
                   subset_test)


def mnist(split: Split = "train", root: str = "data", download: bool = False, fraction: float = 1.0,
          per_class: int | None = None, subset_seed: int = 0, subset_test: bool = False) -> ImageDataset:
    """MNIST (LeCun et al., 1998): 28x28 grey digits, 60,000 train and 10,000 test, given as 3-channel images.

    Layout: ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``MNIST``.
        download: fetch it with torchvision if absent.
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    return _mnist_like(_tvd().MNIST, "mnist", split, root, download, fraction, per_class, subset_seed, subset_test)


def fashion_mnist(split: Split = "train", root: str = "data", download: bool = False, fraction: float = 1.0,
                  per_class: int | None = None, subset_seed: int = 0, subset_test: bool = False) -> ImageDataset:
    """Fashion-MNIST (Xiao et al., 2017): 28x28 grey clothing images of 10 classes, given as 3-channel images.

    Layout: ``root/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``FashionMNIST``.
        download: fetch it with torchvision if absent.
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    return _mnist_like(_tvd().FashionMNIST, "fashion_mnist", split, root, download, fraction, per_class, subset_seed,
                       subset_test)
