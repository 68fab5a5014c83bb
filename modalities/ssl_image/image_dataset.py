"""The common face of every image dataset: RGB PIL items, integer labels, ``num_classes``, ``targets``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image
from torch.utils.data import Dataset

from ssl_core.errors import SslCoreError


class CorruptImageError(SslCoreError, OSError):
    """An image file that cannot be decoded (truncated, not an image); the message names its path."""


def item_path(dataset: Dataset, i: int) -> str | None:
    """The file behind item ``i`` of a torchvision dataset, when it keeps one (ImageFolder, DTD, GTSRB ...)."""
    for attr in ("samples", "_samples", "imgs"):
        entries = getattr(dataset, attr, None)
        if entries is not None:
            return str(entries[i][0])
    files = getattr(dataset, "_image_files", None)
    return None if files is None else str(files[i])


class ImageDataset(Dataset):
    """Wraps a dataset of ``(image, label)`` so that its items are ``(RGB PIL image, int)``.

    Grey images (MNIST, Fashion-MNIST) are converted to three channels, so
    that every image encoder takes every image dataset. A file that cannot be
    decoded raises :class:`CorruptImageError` with its path, whatever the
    underlying loader's own message says.

    Args:
        base: a dataset of ``(PIL image, label)``.
        targets: the label of every item, in order (read without decoding images).
        classes: class names, ``num_classes = len(classes)``.
        name: the dataset's name, for messages.
        root: the folder it was read from, for messages.
    """

    def __init__(self, base: Dataset, targets: Sequence[int], classes: Sequence[str], name: str, root: str | Path):
        if len(targets) != len(base):
            raise ValueError(f"targets has {len(targets)} labels for {len(base)} items of {name}")
        self.base = base
        self.targets = [int(t) for t in targets]
        self.classes = list(classes)
        self.num_classes = len(self.classes)
        self.name = name
        self.root = str(root)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        try:
            image, label = self.base[i]
        except CorruptImageError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:  # what PIL raises for truncated or foreign files
            path = item_path(self.base, i)
            if path is None:
                raise
            raise CorruptImageError(f"cannot read image {path} (item {i} of {self.name}): {exc}") from exc
        if image.mode != "RGB":
            image = image.convert("RGB")
        return image, int(label)

    def __repr__(self) -> str:
        return f"ImageDataset({self.name}, {len(self)} images, {self.num_classes} classes, root={self.root})"


def dataset_not_found(name: str, folder: str | Path, expected: str, downloadable: bool = True) -> FileNotFoundError:
    """The error for an absent dataset: where it looked, what it expected there and how to fix it."""
    folder = Path(folder).expanduser().resolve()
    fix = ("set download: true to fetch it there, or set root to the folder that holds it"
           if downloadable else "put it there in this layout, or set root to the folder that holds it")
    return FileNotFoundError(f"{name} not found at {folder}: expected {expected}; {fix}.")
