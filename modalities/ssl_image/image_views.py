"""Image views: the SimCLR augmentations used by NAC and CNCE, in RGB or Lab, with per-dataset normalisation."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from ssl_image.lab import LAB_MEAN, LAB_STD, rgb_to_lab
from ssl_image.normalization import cached_mean_std, mean_std

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
"""Per-channel pixel mean of the CIFAR-10 training set."""
CIFAR_STD = (0.2470, 0.2435, 0.2616)
"""Per-channel pixel std of the CIFAR-10 training set (over all pixels)."""

Triple = tuple[float, float, float]


def chw_uint8(image: Image.Image) -> torch.Tensor:
    """A PIL image's pixels as a ``uint8`` tensor ``[C, H, W]``."""
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)


class ToRGB:
    """Grey, palette or RGBA PIL images to RGB (a no-op for RGB ones); tensors pass through (see ToNormalizedTensor)."""

    def __call__(self, x):
        return x.convert("RGB") if isinstance(x, Image.Image) and x.mode != "RGB" else x

    def __repr__(self) -> str:
        return "ToRGB()"


class ToNormalizedTensor:
    """PIL image (or uint8 / [0, 1] float tensor) to a float tensor ``[3, H, W]``, optionally Lab, normalised.

    One step for what ``v2.ToImage``, ``v2.ToDtype``, a Lab conversion and
    ``v2.Normalize`` do in four; on 32x32 images their per-call overhead
    (about 0.4 ms) is a large share of a view's cost.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], lab: bool = False):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        self.lab = lab

    def to_unit(self, x) -> torch.Tensor:
        """``x`` as float32 in [0, 1], channels first."""
        x = chw_uint8(x) if isinstance(x, Image.Image) else torch.as_tensor(x)
        if x.shape[-3] == 1:  # grey tensor
            x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        return rgb_to_lab(x) if self.lab else x

    def __call__(self, x) -> torch.Tensor:
        return ((self.to_unit(x) - self.mean) / self.std).contiguous()

    def __repr__(self) -> str:
        mean, std = self.mean.flatten().tolist(), self.std.flatten().tolist()
        return f"ToNormalizedTensor(mean={mean}, std={std}, lab={self.lab})"


class ToUnitTensor(ToNormalizedTensor):
    """:class:`ToNormalizedTensor` without the normalisation (for computing the statistics)."""

    def __init__(self, lab: bool = False):
        super().__init__((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), lab)

    def __call__(self, x) -> torch.Tensor:
        return self.to_unit(x).contiguous()


def _blur_kernel(size: int) -> int:
    """SimCLR's blur kernel: 10% of the image side, odd, at least 3."""
    k = max(3, int(0.1 * size))
    return k if k % 2 else k + 1


class ImageViews:
    """Random views of an image for contrastive training, and its deterministic evaluation view.

    ``augment: simclr`` (default) is the augmentation family of SimCLR
    (Chen et al., 2020a, App. A), which NAC uses (Sec. 5): random resized
    crop (area ``min_scale``..1), horizontal flip, colour jitter of strength
    s with brightness, contrast, saturation 0.8s and hue 0.2s applied with
    probability 0.8, grey-scale with probability 0.2, and Gaussian blur
    (kernel 10% of the side, sigma 0.1..2) with probability ``blur_prob``.
    NAC, after SimCLR, leaves blur out on CIFAR-10 (``blur_prob: 0``, the
    default) and uses s = 0.5 there (the default); ImageNet runs set
    ``size: 224``, ``jitter_strength: 1.0``, ``blur_prob: 0.5``. The CNCE
    paper's family (crop, colour jitter, flip, grey-scale; Sec. 5) is the
    same without blur; its reference code's instance-discrimination recipe
    is ``min_scale: 0.2, jitter: [0.4, 0.4, 0.4, 0.4]``.
    ``augment: crop_flip`` keeps only the crop and flip (the training side of
    a linear probe); ``augment: none`` makes ``train`` equal ``eval``.

    The pieces are those of lightly's ``SimCLRViewTransform`` rebuilt from
    ``torchvision.transforms.v2``. In training they run a batch at once by
    default (``batched: true``, :meth:`train_batch`, :mod:`ssl_image.batched_views`:
    the same random parameters per image, the kernels over the batch), which
    on 32x32 images is faster than one image at a time with PIL (:meth:`train`,
    the fastest per-image path; ``benchmarks/image_views.py``). lightly's
    ``GaussianBlur`` draws from NumPy's global generator, which forked
    DataLoader workers share, so its blur decisions would repeat across
    workers; torchvision's draw from torch's generator, which each worker
    seeds apart. The final conversion, Lab and normalisation are one
    step (:class:`ToNormalizedTensor`).

    ``eval`` resizes the shorter side to ``eval_resize`` (default ``size``),
    crops the centre ``size`` x ``size`` and normalises.

    ``color_space: lab`` converts the RGB view to CIE L*a*b* after the
    augmentations (CMC, Tian et al., 2019; CMC's objective splits L from ab)
    and normalises with CMC's Lab mean (50, 5.98, -6.69) and std
    (50, 92.21, 101.17) unless ``mean``/``std`` are given.

    ``stats_from`` names a registered dataset whose training split gives
    the normalisation: the per-channel mean and std of its eval views
    (resize, crop, colour space), over at most ``stats_items`` images, as the
    CNCE paper does for every transfer dataset; computed once, then cached
    (:mod:`ssl_image.normalization`).

    Args:
        size: side of every view, in pixels.
        n_views: views per example in training.
        augment: ``"simclr"``, ``"crop_flip"`` or ``"none"``.
        min_scale: smallest crop area, as a fraction of the image.
        jitter_strength: colour jitter strength s.
        jitter: explicit (brightness, contrast, saturation, hue), replacing the strength-derived ones.
        jitter_prob: probability of colour jitter.
        grayscale_prob: probability of grey-scale conversion.
        flip_prob: probability of a horizontal flip.
        blur_prob: probability of Gaussian blur.
        blur_sigma: range of the blur's sigma, in pixels.
        eval_resize: shorter side before the centre crop in ``eval`` (e.g. 256 for a 224 crop); null means ``size``.
        color_space: ``"rgb"`` or ``"lab"``.
        mean: per-channel normalisation mean; null means CIFAR-10's (rgb) or CMC's (lab).
        std: per-channel normalisation std; null means CIFAR-10's (rgb) or CMC's (lab).
        stats_from: a registered dataset whose training split gives mean and std.
        stats_params: that dataset's parameters.
        stats_items: images sampled from it for the statistics.
        batched: make the training views of a batch at once (:meth:`train_batch`, faster on small
            images) instead of one image at a time with PIL (:meth:`train`); the two differ by PIL's
            rounding, not in distribution.
    """

    def __init__(
        self,
        size: int = 32,
        n_views: int = 2,
        augment: Literal["simclr", "crop_flip", "none"] = "simclr",
        min_scale: float = 0.08,
        jitter_strength: float = 0.5,
        jitter: tuple[float, float, float, float] | None = None,
        jitter_prob: float = 0.8,
        grayscale_prob: float = 0.2,
        flip_prob: float = 0.5,
        blur_prob: float = 0.0,
        blur_sigma: tuple[float, float] = (0.1, 2.0),
        eval_resize: int | None = None,
        color_space: Literal["rgb", "lab"] = "rgb",
        mean: Triple | None = None,
        std: Triple | None = None,
        stats_from: str | None = None,
        stats_params: dict | None = None,
        stats_items: int = 5000,
        batched: bool = True,
    ):
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        if n_views < 1:
            raise ValueError(f"n_views must be >= 1, got {n_views}")
        if augment not in ("simclr", "crop_flip", "none"):
            raise ValueError(f"augment must be 'simclr', 'crop_flip' or 'none', got {augment!r}")
        if not 0.0 < min_scale <= 1.0:
            raise ValueError(f"min_scale must lie in (0, 1], got {min_scale}")
        if not 0.0 <= jitter_strength <= 2.5:
            raise ValueError(f"jitter_strength must lie in [0, 2.5] (the hue jitter 0.2 s is at most 0.5), "
                             f"got {jitter_strength}")
        if jitter is not None and (any(j < 0 for j in jitter) or jitter[3] > 0.5):
            raise ValueError(f"jitter must be (brightness, contrast, saturation, hue) >= 0 with hue <= 0.5, "
                             f"got {jitter}")
        s = jitter_strength
        jitter = tuple(jitter) if jitter is not None else (0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)
        for name, p in (("jitter_prob", jitter_prob), ("grayscale_prob", grayscale_prob), ("flip_prob", flip_prob),
                        ("blur_prob", blur_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {p}")
        if not 0.0 < blur_sigma[0] <= blur_sigma[1]:
            raise ValueError(f"blur_sigma must be (low, high) with 0 < low <= high, got {blur_sigma}")
        if eval_resize is not None and eval_resize < size:
            raise ValueError(f"eval_resize must be >= size ({size}), got {eval_resize}")
        if color_space not in ("rgb", "lab"):
            raise ValueError(f"color_space must be 'rgb' or 'lab', got {color_space!r}")
        if stats_from is not None and (mean is not None or std is not None):
            raise ValueError("stats_from computes mean and std; give either stats_from or mean/std, not both")
        if std is not None and any(s <= 0 for s in std):
            raise ValueError(f"std must be > 0, got {std}")
        if stats_items < 1:
            raise ValueError(f"stats_items must be >= 1, got {stats_items}")

        from torchvision.transforms import v2  # imported when built: the plugin loads without torchvision

        from ssl_image.batched_views import BatchedViews

        self.size = size
        self.n_views = n_views
        self.color_space = color_space
        lab = color_space == "lab"
        resize_crop = [ToRGB(), v2.Resize(eval_resize or size), v2.CenterCrop(size)]
        if stats_from is not None:
            unnormalised = v2.Compose([*resize_crop, ToUnitTensor(lab)])
            mean, std = self._dataset_stats(stats_from, stats_params or {}, unnormalised, stats_items)
        default_mean, default_std = (LAB_MEAN, LAB_STD) if lab else (CIFAR_MEAN, CIFAR_STD)
        self.mean = tuple(mean) if mean is not None else default_mean
        self.std = tuple(std) if std is not None else default_std
        finish = ToNormalizedTensor(self.mean, self.std, lab)

        self._eval = v2.Compose([*resize_crop, finish])
        self._batched = None
        if augment == "none":
            self._train = self._eval
            return
        crop, flip = v2.RandomResizedCrop(size, scale=(min_scale, 1.0)), v2.RandomHorizontalFlip(flip_prob)
        color = grayscale = blur = None
        if augment == "simclr":
            color = v2.RandomApply([v2.ColorJitter(*jitter)], p=jitter_prob)
            grayscale = v2.RandomGrayscale(grayscale_prob)
            if blur_prob > 0:
                blur = v2.RandomApply([v2.GaussianBlur(_blur_kernel(size), sigma=tuple(blur_sigma))], p=blur_prob)
        steps = [ToRGB(), crop, flip, *(t for t in (color, grayscale, blur) if t is not None)]
        self._train = v2.Compose([*steps, finish])
        if batched:
            self._batched = BatchedViews(crop, flip, color, grayscale, blur, finish, n_views)

    @staticmethod
    def _dataset_stats(name: str, params: dict, transform, items: int):
        from ssl_core.registry import registry  # at call time: the registry loads this plugin

        def compute():
            dataset = registry().build("dataset", name, params, split="train")
            return mean_std(dataset, transform, max_items=items)

        resolved = {k: (str(Path(v).expanduser().resolve()) if k == "root" and isinstance(v, str) else v)
                    for k, v in params.items()}
        key = {"dataset": name, "params": resolved, "transform": repr(transform), "items": items}
        return cached_mean_std(key, compute)

    def train(self, x) -> torch.Tensor:
        """One random view ``[3, size, size]`` of the image ``x`` (PIL image or uint8 tensor)."""
        return self._train(x)

    @property
    def batched(self) -> bool:
        """Whether :meth:`train_batch` makes the training views (``batched: true`` and a random augmentation)."""
        return self._batched is not None

    def train_item(self, x) -> torch.Tensor:
        """The image as the ``uint8`` tensor ``[3, H, W]`` that :meth:`train_batch` takes."""
        return chw_uint8(ToRGB()(x)) if isinstance(x, Image.Image) else torch.as_tensor(x)

    def train_batch(self, images: list[torch.Tensor], seeds: list[int]) -> list[torch.Tensor]:
        """``n_views`` batches ``[B, 3, size, size]`` of random views, image i's drawn from ``seeds[i]``.

        See :mod:`ssl_image.batched_views`: the views of :meth:`train` applied to
        ``uint8`` tensors (but for a few pixels in a thousand, one or two levels
        apart), made for the batch at once.
        """
        if self._batched is None:
            raise RuntimeError("train_batch needs batched: true and an augment other than 'none'")
        return self._batched(images, seeds)

    def eval(self, x) -> torch.Tensor:
        """The deterministic view ``[3, size, size]``: resize, centre crop, normalise."""
        return self._eval(x)

    def __repr__(self) -> str:
        return f"ImageViews(train={self._train}, eval={self._eval})"
