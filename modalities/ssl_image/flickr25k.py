"""MIRFLICKR-25K with its 24 labels, for multi-label hash retrieval (NAC paper, Table 4).

Layout read (the files of the official MIRFLICKR-25K distribution, unpacked
side by side under ``root``)::

    root/mirflickr/im1.jpg ... im25000.jpg            (mirflickr25k.zip)
    root/mirflickr25k_annotations_v080/animals.txt ...  (mirflickr25k_annotations_v080.zip)

The annotation folder may also be ``root/annotations`` or ``root`` itself.
Each of the 24 "potential" label files (``animals.txt`` ... ``water.txt``,
the ``*_r1.txt`` relevant-only files are not used) lists the numbers of the
images carrying the label, one per line. The label of an image is the
24-dimensional multi-hot vector of the files that list it. Images with no
label are dropped by default, as in the preprocessed FLICKR-25K used by most
deep-hashing code (which keeps the images having at least one label).

Protocol (DistillHash / SSDH, followed by the NAC paper): ``num_queries``
(2,000) random images are the queries, the others the retrieval database,
and ``num_train`` (5,000) random images of the database train the encoder.
The draw is ``numpy.random.default_rng(seed).permutation`` over the kept
images in increasing image number, the same draw as
``ssl_eval.hash_retrieval.random_retrieval_split``. Splits: ``query``,
``database``, ``train`` (the 5,000, a subset of the database), ``test``
(= ``query``) and ``all``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

LABELS: tuple[str, ...] = (
    "animals", "baby", "bird", "car", "clouds", "dog", "female", "flower", "food", "indoor", "lake", "male",
    "night", "people", "plant_life", "portrait", "river", "sea", "sky", "structures", "sunset", "transport",
    "tree", "water",
)
"""The 24 potential labels, in the order of the label vector."""

ANNOTATION_DIRS: tuple[str, ...] = ("mirflickr25k_annotations_v080", "annotations", ".")


def find_annotations(root: Path) -> Path:
    """The folder holding the 24 label files, or ``FileNotFoundError`` naming where it looked."""
    tried = [root / name for name in ANNOTATION_DIRS]
    for folder in tried:
        if all((folder / f"{label}.txt").is_file() for label in LABELS):
            return folder
    raise FileNotFoundError(
        f"FLICKR-25K annotations not found: looked for {LABELS[0]}.txt ... {LABELS[-1]}.txt (24 files) in "
        + ", ".join(str(p) for p in tried) + ". Unpack mirflickr25k_annotations_v080.zip under the dataset root."
    )


def read_labels(folder: Path, num_images: int) -> np.ndarray:
    """``[num_images, 24]`` multi-hot labels (uint8) of images ``1..num_images`` from the label files."""
    labels = np.zeros((num_images, len(LABELS)), dtype=np.uint8)
    for k, label in enumerate(LABELS):
        numbers = [int(line) for line in (folder / f"{label}.txt").read_text().split()]
        bad = [i for i in numbers if not 1 <= i <= num_images]
        if bad:
            raise ValueError(f"{folder / (label + '.txt')} lists image {bad[0]}, outside 1..{num_images}")
        labels[np.asarray(numbers, dtype=np.int64) - 1, k] = 1
    return labels


def flickr25k_split(num_items: int, num_queries: int = 2000, num_train: int = 5000,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Sorted positions of the ``query``, ``database`` and ``train`` images (train within database)."""
    if num_queries < 1 or num_train < 0 or num_queries + num_train > num_items:
        raise ValueError(f"need 1 <= num_queries and num_queries + num_train <= {num_items} images, "
                         f"got num_queries={num_queries}, num_train={num_train}")
    order = np.random.default_rng(seed).permutation(num_items)
    query, database = order[:num_queries], order[num_queries:]
    return {"query": np.sort(query), "database": np.sort(database), "train": np.sort(database[:num_train]),
            "test": np.sort(query), "all": np.arange(num_items)}


class Flickr25k(Dataset):
    """MIRFLICKR-25K images (PIL, RGB) with 24-label multi-hot targets (``torch.long [24]``).

    Args:
        split: ``train``, ``test`` (= ``query``), ``query``, ``database`` or ``all`` (context).
        root: folder holding ``mirflickr/`` and the annotations (see the module doc).
        num_queries: queries of the protocol (2,000).
        num_train: training images drawn from the database (5,000).
        seed: seed of the split.
        drop_unlabeled: leave out the images that carry none of the 24 labels.
    """

    num_classes = len(LABELS)
    multi_label = True

    def __init__(self, split: str = "train", root: str = "data", num_queries: int = 2000,
                 num_train: int = 5000, seed: int = 0, drop_unlabeled: bool = True):
        root_path = Path(root).expanduser()
        image_dir = root_path / "mirflickr"
        if not image_dir.is_dir():
            raise FileNotFoundError(f"FLICKR-25K images not found: no folder {image_dir} (expected "
                                    f"{image_dir}/im1.jpg ...). Unpack mirflickr25k.zip under {root_path}.")
        numbers = sorted(int(p.stem[2:]) for p in image_dir.glob("im*.jpg") if p.stem[2:].isdigit())
        if not numbers:
            raise FileNotFoundError(f"FLICKR-25K images not found: no im<N>.jpg file in {image_dir}")
        labels = read_labels(find_annotations(root_path), max(numbers))
        numbers = np.asarray(numbers, dtype=np.int64)
        labels = labels[numbers - 1]
        if drop_unlabeled:
            keep = labels.any(axis=1)
            numbers, labels = numbers[keep], labels[keep]
        parts = flickr25k_split(len(numbers), num_queries, num_train, seed)
        if split not in parts:
            raise ValueError(f"split must be one of {', '.join(parts)}, got {split!r}")
        self.split = split
        self.image_dir = image_dir
        self.positions = parts[split]
        self.image_numbers = numbers[self.positions]
        self.labels = torch.as_tensor(labels[self.positions], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.image_numbers)

    def __getitem__(self, i: int):
        with Image.open(self.image_dir / f"im{self.image_numbers[i]}.jpg") as image:
            return image.convert("RGB"), self.labels[i]
