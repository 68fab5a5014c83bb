"""Any ImageNet-style folder tree ``root/<split>/<class>/<image>`` through torchvision's ImageFolder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PIL import Image

from ssl_image.decoded_cache import DecodedCache
from ssl_image.image_dataset import CorruptImageError, ImageDataset, dataset_not_found
from ssl_image.subset import apply_subset, check_subset_params

LAYOUT = "<root>/<split folder>/<class name>/<image>.jpg (one folder per class, as ImageNet's train/ and val/)"


def load_rgb(path: str) -> Image.Image:
    """Open and fully decode an image as RGB, naming the file if it is truncated or not an image."""
    try:
        with open(path, "rb") as f:
            image = Image.open(f)
            return image.convert("RGB")  # decodes the whole file, so a truncated one fails here
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(f"cannot read image {path}: {exc}") from exc


def _image_extensions() -> tuple[str, ...]:
    """torchvision's ``IMG_EXTENSIONS`` (imported when needed: the plugin loads without torchvision)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return IMG_EXTENSIONS


def _empty_class_folders(folder: Path) -> list[str]:
    return sorted(str(d) for d in folder.iterdir() if d.is_dir()
                  and not any(f.suffix.lower() in _image_extensions() for f in d.rglob("*") if f.is_file()))


def _check_same_classes(folder: Path, other: Path) -> None:
    """Labels are indices into the sorted class folders, so both splits must hold the same ones."""
    if not other.is_dir():
        return
    mine = {d.name for d in folder.iterdir() if d.is_dir()}
    theirs = {d.name for d in other.iterdir() if d.is_dir()}
    if mine != theirs:
        raise ValueError(
            f"image_folder: the class folders of {folder.resolve()} and {other.resolve()} differ (only in "
            f"{folder.name}: {sorted(mine - theirs)[:10]}; only in {other.name}: {sorted(theirs - mine)[:10]}); "
            f"labels would not agree between the splits, so give both splits the same class folders"
        )


def image_folder(split: Literal["train", "test"] = "train", root: str = "data/images", train_dir: str = "train",
                 test_dir: str = "test", fraction: float = 1.0, per_class: int | None = None, subset_seed: int = 0,
                 subset_test: bool = False, cache_decoded: bool = False) -> ImageDataset:
    """Images in class folders, one tree per split: ``root/train_dir/<class>/*`` and ``root/test_dir/<class>/*``.

    Classes are the sub-folder names in sorted order (torchvision's
    ImageFolder), so both splits must hold the same class folders (checked:
    otherwise labels would not agree between them). Images
    are decoded as RGB; a file that cannot be decoded raises
    :class:`~ssl_image.image_dataset.CorruptImageError` with its path when
    it is read. The tree is scanned once, when the dataset is built.

    Args:
        split: ``"train"`` or ``"test"`` (context).
        root: the folder holding the split folders.
        train_dir: the training split's folder under ``root``.
        test_dir: the test split's folder under ``root`` (``val`` for ImageNet).
        fraction: keep this share of each class of the training split.
        per_class: keep at most this many images per class of the training split.
        subset_seed: seed of the subset.
        subset_test: apply the subset to the test split too.
        cache_decoded: keep every decoded image in memory after its first read
            (:class:`~ssl_image.decoded_cache.DecodedCache`; for small images: CIFAR-10's 60,000 take 180 MB).
    """
    check_subset_params(fraction, per_class)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(root).expanduser() / (train_dir if split == "train" else test_dir)
    if not folder.is_dir():
        raise dataset_not_found("image_folder", folder, LAYOUT, downloadable=False)
    _check_same_classes(folder, Path(root).expanduser() / (test_dir if split == "train" else train_dir))
    try:
        from torchvision.datasets import ImageFolder  # imported when built: the plugin loads fast

        data = ImageFolder(str(folder), loader=DecodedCache(load_rgb) if cache_decoded else load_rgb)
    except FileNotFoundError as exc:
        empty = _empty_class_folders(folder)
        if empty:
            raise FileNotFoundError(
                f"image_folder: {len(empty)} class folder(s) under {folder.resolve()} hold no image "
                f"({', '.join(_image_extensions())}): {', '.join(empty[:10])}{' ...' if len(empty) > 10 else ''}; "
                f"add images or remove them (every class needs images in every split)"
            ) from exc
        raise FileNotFoundError(f"image_folder: no class folder under {folder.resolve()}; expected {LAYOUT}") from exc
    dataset = ImageDataset(data, data.targets, data.classes, f"image_folder {folder.name}", folder)
    return apply_subset(dataset, split, fraction, per_class, subset_seed, subset_test)
