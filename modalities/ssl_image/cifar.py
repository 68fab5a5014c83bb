"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) through torchvision, in their official python-pickle layout."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Literal


from ssl_image.image_dataset import ImageDataset, dataset_not_found
from ssl_image.subset import apply_subset, check_subset_params


class _Presence:
    """torchvision's CIFAR classes, checking that the batch files exist instead of hashing them on every load.

    torchvision verifies the md5 of every batch file each time the dataset is
    built; the archive's md5 is already checked when ``download: true``
    fetches it. ``verify: true`` restores the per-file check.
    """

    def __init__(self, *args, verify: bool = False, **kwargs):
        self.verify = verify
        super().__init__(*args, **kwargs)

    def _check_integrity(self) -> bool:
        if self.verify:
            return super()._check_integrity()
        return all(os.path.isfile(os.path.join(self.root, self.base_folder, name))
                   for name, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        if self.verify:
            return super()._load_meta()
        with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


def _cifar_class(name: str) -> type:
    """torchvision's ``CIFAR10`` / ``CIFAR100`` with :class:`_Presence` (torchvision imported when a dataset is built)."""
    if name not in _CLASSES:
        from torchvision import datasets

        _CLASSES[name] = type(f"_{name}", (_Presence, getattr(datasets, name)), {})
    return _CLASSES[name]


_CLASSES: dict[str, type] = {}


def _load(cls, name: str, split: str, root: str, download: bool, verify: bool) -> ImageDataset:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root_path = Path(root).expanduser()
    folder = root_path / cls.base_folder
    needed = [n for n, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing and not download:
        absent = "none of them is there" if len(missing) == len(needed) else f"missing: {', '.join(missing)}"
        raise dataset_not_found(name, folder, f"the official python batches ({', '.join(needed)}) of "
                                              f"{cls.filename}; {absent}")
    try:
        dataset = cls(str(root_path), train=split == "train", download=download, verify=verify)
    except RuntimeError as exc:
        raise RuntimeError(f"{name} at {folder} failed torchvision's md5 check ({exc}); delete the folder and set "
                           f"download: true") from exc
    return ImageDataset(dataset, dataset.targets, dataset.classes, name, folder)


def cifar10(split: Literal["train", "test"] = "train", root: str = "data", download: bool = False, verify: bool = False,
            fraction: float = 1.0, per_class: int | None = None, subset_seed: int = 0,
            subset_test: bool = False) -> ImageDataset:
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images of 10 classes.

    Read from ``root/cifar-10-batches-py`` (the extracted
    ``cifar-10-python.tar.gz``), with torchvision's reader.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``cifar-10-batches-py``.
        download: fetch and extract the archive into ``root`` if absent (md5-checked).
        verify: check every batch file's md5 on load, as torchvision does (slower).
        fraction: keep this share of each class of the training split (see :mod:`ssl_image.subset`).
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    check_subset_params(fraction, per_class)
    data = _load(_cifar_class("CIFAR10"), "cifar10", split, root, download, verify)
    return apply_subset(data, split, fraction, per_class, subset_seed, subset_test)


def cifar100(split: Literal["train", "test"] = "train", root: str = "data", download: bool = False,
             verify: bool = False, fraction: float = 1.0, per_class: int | None = None, subset_seed: int = 0,
             subset_test: bool = False) -> ImageDataset:
    """CIFAR-100: 50,000 training and 10,000 test 32x32 colour images of 100 fine classes.

    Read from ``root/cifar-100-python`` (the extracted
    ``cifar-100-python.tar.gz``), with torchvision's reader.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``cifar-100-python``.
        download: fetch and extract the archive into ``root`` if absent (md5-checked).
        verify: check every file's md5 on load, as torchvision does (slower).
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    check_subset_params(fraction, per_class)
    data = _load(_cifar_class("CIFAR100"), "cifar100", split, root, download, verify)
    return apply_subset(data, split, fraction, per_class, subset_seed, subset_test)
