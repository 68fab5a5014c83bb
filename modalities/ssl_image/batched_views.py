"""The random views of a whole batch at once: torchvision's random parameters per image, its kernels per batch.

Made one image at a time, a 32x32 SimCLR view costs ~0.35 ms of Python
and PIL overhead (crop, flip, colour jitter, grey-scale, conversion), which
on a 2-core CPU is as long as the training step itself. Here every image's
parameters are drawn by the very torchvision transforms (``make_params`` and
the ``torch.rand(1) >= p`` checks, in the order ``v2.Compose`` calls them),
so that a view depends only on its image's seed; the crop and resize run per
image (their sizes differ), and the flip, colour jitter, grey-scale and
normalisation run once over the batch, each image with its own factors.

The pixels equal those of the same ``v2.Compose`` applied to each image as a
``uint8`` tensor, but for a few in a thousand that are one or two intensity
levels apart (the per-image factors are tensors here, Python floats there: a
product can round the other way at a level's edge, and the next adjustment
carries it on); a test checks it. They differ from the PIL path
(``ImageViews.train`` on PIL images) by PIL's own rounding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F
from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv  # torchvision is pinned

BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)
"""``v2.ColorJitter``'s numbering of its four adjustments (the entries of ``fn_idx``)."""


@dataclass
class ViewParams:
    """The random choices behind one view, as torchvision's transforms draw them."""

    crop: tuple[int, int, int, int]  # top, left, height, width
    flip: bool = False
    jitter_order: list[int] | None = None  # v2.ColorJitter's fn_idx when jitter was applied, else None
    jitter_factors: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 0.0)  # brightness, contrast, saturation, hue
    grayscale: bool = False
    blur_sigma: float | None = None


class BatchedViews:
    """Draws and applies the training views of :class:`ssl_image.image_views.ImageViews` for a batch.

    Args:
        crop: the ``v2.RandomResizedCrop``.
        flip: the ``v2.RandomHorizontalFlip``.
        jitter: the ``v2.RandomApply`` holding one ``v2.ColorJitter``, or None.
        grayscale: the ``v2.RandomGrayscale``, or None.
        blur: the ``v2.RandomApply`` holding one ``v2.GaussianBlur``, or None.
        finish: the conversion to a normalised float tensor (works on ``[B, 3, H, W]``).
        n_views: views per image.
    """

    def __init__(self, crop: v2.RandomResizedCrop, flip: v2.RandomHorizontalFlip, jitter: v2.RandomApply | None,
                 grayscale: v2.RandomGrayscale | None, blur: v2.RandomApply | None, finish, n_views: int):
        self.crop, self.flip, self.jitter, self.grayscale, self.blur = crop, flip, jitter, grayscale, blur
        self.finish = finish
        self.n_views = n_views

    def draw(self, image: Tensor) -> ViewParams:
        """One view's parameters from torch's global generator, in ``v2.Compose``'s order of draws."""
        crop = self.crop.make_params([image])
        params = ViewParams(crop=(crop["top"], crop["left"], crop["height"], crop["width"]))
        params.flip = _applies(self.flip.p)
        if self.jitter is not None and _applies(self.jitter.p):
            jitter = self.jitter.transforms[0].make_params([image])
            params.jitter_order = jitter["fn_idx"].tolist()
            params.jitter_factors = (_or(jitter["brightness_factor"], 1.0), _or(jitter["contrast_factor"], 1.0),
                                     _or(jitter["saturation_factor"], 1.0), _or(jitter["hue_factor"], 0.0))
        if self.grayscale is not None:
            params.grayscale = _applies(self.grayscale.p)
        if self.blur is not None and _applies(self.blur.p):
            params.blur_sigma = self.blur.transforms[0].make_params([image])["sigma"][0]
        return params

    def __call__(self, images: list[Tensor], seeds: list[int]) -> list[Tensor]:
        """``n_views`` batches ``[B, 3, size, size]``: view v of image i drawn under ``seeded(seeds[i])``.

        ``images`` are ``uint8`` tensors ``[3, H, W]`` (sizes may differ).
        """
        if len(images) != len(seeds):
            raise ValueError(f"got {len(images)} images but {len(seeds)} seeds")
        params = []
        state = torch.get_rng_state()  # the views' draws leave torch's generator as they found it
        try:
            for image, seed in zip(images, seeds):
                # as ssl_core.seeded_rng.seeded(seed) does for the per-image views (torchvision draws from torch alone)
                torch.default_generator.manual_seed(seed)
                params.append([self.draw(image) for _ in range(self.n_views)])
        finally:
            torch.set_rng_state(state)
        views = []
        for v in range(self.n_views):
            batch = torch.stack([self.crop_resize(image, p[v]) for image, p in zip(images, params)])
            views.append(self.finish(self.photometric(batch, [p[v] for p in params])))
        return views

    def crop_resize(self, image: Tensor, params: ViewParams) -> Tensor:
        top, left, height, width = params.crop
        return F.resized_crop(image, top, left, height, width, size=self.crop.size,
                              interpolation=self.crop.interpolation, antialias=self.crop.antialias)

    def photometric(self, batch: Tensor, params: list[ViewParams]) -> Tensor:
        """Flip, colour jitter (each image in its own order), grey-scale and blur of a ``uint8`` batch, in place."""
        flip = torch.tensor([p.flip for p in params])
        if flip.any():
            batch[flip] = F.horizontal_flip(batch[flip])
        jittered = [i for i, p in enumerate(params) if p.jitter_order is not None]
        if jittered:
            factors = torch.tensor([params[i].jitter_factors for i in jittered], dtype=torch.float64)
            order = torch.tensor([params[i].jitter_order for i in jittered])
            rows = torch.tensor(jittered)
            for stage, kind in itertools.product(range(4), ADJUST):  # stage k applies each image's k-th adjustment
                pick = order[:, stage] == kind
                if pick.any():
                    batch[rows[pick]] = ADJUST[kind](batch[rows[pick]], factors[pick, kind])
        gray = torch.tensor([p.grayscale for p in params])
        if gray.any():
            batch[gray] = F.rgb_to_grayscale(batch[gray], num_output_channels=3)
        if self.blur is not None:
            kernel = self.blur.transforms[0].kernel_size
            for i, p in enumerate(params):
                if p.blur_sigma is not None:
                    batch[i] = F.gaussian_blur(batch[i], kernel, [p.blur_sigma, p.blur_sigma])
        return batch


def _applies(p: float) -> bool:
    """A random transform's decision as torchvision's ``forward`` draws it: skipped when ``torch.rand(1) >= p``."""
    return bool(torch.rand(1) < p)


def _or(value, default: float) -> float:
    return default if value is None else float(value)


def _per_image(factors: Tensor) -> Tensor:
    """Per-image factors (float64, as Python floats are) as float32 ``[B, 1, 1, 1]``, as torch casts a scalar."""
    return factors.to(torch.float32).view(-1, 1, 1, 1)


def _blend(image: Tensor, other: Tensor, ratio: Tensor) -> Tensor:
    """torchvision's ``_blend`` for ``uint8`` images with a ratio per image: ``ratio x + (1 - ratio) y``, truncated."""
    out = image.mul(_per_image(ratio)).add_(other * _per_image(1.0 - ratio)).clamp_(0, 255)
    return out.to(image.dtype)


def _floored_gray(image: Tensor) -> Tensor:
    return F.rgb_to_grayscale(image.float(), num_output_channels=1).floor_()


def adjust_brightness(image: Tensor, factor: Tensor) -> Tensor:
    """``F.adjust_brightness`` with a factor per image."""
    return image.mul(_per_image(factor)).clamp_(0, 255).to(image.dtype)


def adjust_contrast(image: Tensor, factor: Tensor) -> Tensor:
    """``F.adjust_contrast`` with a factor per image: blend with the mean of the floored grey image."""
    return _blend(image, _floored_gray(image).mean(dim=(-3, -2, -1), keepdim=True), factor)


def adjust_saturation(image: Tensor, factor: Tensor) -> Tensor:
    """``F.adjust_saturation`` with a factor per image: blend with the floored grey image."""
    return _blend(image, _floored_gray(image), factor)


def adjust_hue(image: Tensor, factor: Tensor) -> Tensor:
    """``F.adjust_hue`` with a shift per image: rotate the hue in HSV."""
    hsv = _rgb_to_hsv(F.to_dtype(image, torch.float32, scale=True))
    h, s, v = hsv.unbind(dim=-3)
    h = h.add(_per_image(factor).squeeze(1)).remainder_(1.0)
    return F.to_dtype(_hsv_to_rgb(torch.stack((h, s, v), dim=-3)), image.dtype, scale=True)


ADJUST = {BRIGHTNESS: adjust_brightness, CONTRAST: adjust_contrast, SATURATION: adjust_saturation, HUE: adjust_hue}
