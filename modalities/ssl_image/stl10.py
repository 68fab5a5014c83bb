"""STL-10 (Coates et al., 2011) through torchvision, in its official binary layout, with its unlabelled split."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal


from ssl_image.image_dataset import ImageDataset, dataset_not_found
from ssl_image.subset import apply_subset, check_subset_params

CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
_FILES = {
    "train": ("train_X.bin", "train_y.bin"),
    "test": ("test_X.bin", "test_y.bin"),
    "unlabeled": ("unlabeled_X.bin",),
    "train+unlabeled": ("train_X.bin", "train_y.bin", "unlabeled_X.bin"),
}


def _stl10_class() -> type:
    """torchvision's STL10 with :class:`_Presence` (torchvision imported when a dataset is built, not at plugin load)."""
    from torchvision.datasets import STL10

    return type("_STL10", (_Presence, STL10), {})


class _Presence:
    """torchvision's STL10, checking that the split's files exist instead of hashing all of them on every load.

    torchvision hashes every file, the 2.6 GB ``unlabeled_X.bin`` included,
    each time any split is built; the archive's md5 is already checked when
    ``download: true`` fetches it. ``verify: true`` restores the check.
    """

    def __init__(self, *args, verify: bool = False, **kwargs):
        self.verify = verify
        super().__init__(*args, **kwargs)

    def _check_integrity(self) -> bool:
        if self.verify:
            return super()._check_integrity()
        return all(os.path.isfile(os.path.join(self.root, self.base_folder, name)) for name in _FILES[self.split])


def stl10(split: Literal["train", "test"] = "train", root: str = "data", download: bool = False, verify: bool = False,
          train_split: Literal["train", "unlabeled", "train+unlabeled"] = "train", folds: int | None = None,
          fraction: float = 1.0, per_class: int | None = None, subset_seed: int = 0,
          subset_test: bool = False) -> ImageDataset:
    """STL-10: 96x96 colour images, 5,000 labelled training, 8,000 test and 100,000 unlabelled, 10 classes.

    Read from ``root/stl10_binary`` (the extracted ``stl10_binary.tar.gz``)
    with torchvision's reader, which loads the whole split into memory (the
    unlabelled split is 2.6 GB of pixels). For pretraining set
    ``train_split: unlabeled`` or ``train+unlabeled``; unlabelled images have
    label -1 (``num_classes`` stays 10).

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding ``stl10_binary``.
        download: fetch and extract the archive (2.5 GB) into ``root`` if absent (md5-checked).
        verify: check every file's md5 on load, as torchvision does (slow).
        train_split: what ``split: train`` reads: ``"train"``, ``"unlabeled"`` or ``"train+unlabeled"``.
        folds: one of the 10 official 1,000-image training folds (0-9), or null for all 5,000.
        fraction: keep this share of each class (and of the unlabelled images) of the training split.
        per_class: keep at most this many images per class (labelled splits only).
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
    """
    check_subset_params(fraction, per_class)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if folds is not None and not 0 <= folds <= 9:
        raise ValueError(f"folds must lie in 0..9 or be null, got {folds}")
    which = train_split if split == "train" else "test"
    STL10 = _stl10_class()
    folder = Path(root).expanduser() / STL10.base_folder
    missing = [n for n in _FILES[which] if not (folder / n).is_file()]
    if missing and not download:
        absent = "none of them is there" if len(missing) == len(_FILES[which]) else f"missing: {', '.join(missing)}"
        raise dataset_not_found("stl10", folder, f"the official binaries of {STL10.filename} "
                                                 f"({', '.join(_FILES[which])} for split '{which}'); {absent}")
    try:
        data = STL10(str(Path(root).expanduser()), split=which, folds=folds, download=download, verify=verify)
    except RuntimeError as exc:
        raise RuntimeError(f"stl10 at {folder} failed torchvision's md5 check ({exc}); delete the folder and set "
                           f"download: true") from exc
    classes = getattr(data, "classes", None) or CLASSES
    dataset = ImageDataset(data, data.labels, classes, "stl10", folder)
    return apply_subset(dataset, which, fraction, per_class, subset_seed, subset_test)
