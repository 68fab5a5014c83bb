"""Views of the 8x8 digits: small crops, rotations and pixel noise."""

from __future__ import annotations

import torch


class DigitsViews:
    """Random resized crop, small rotation and Gaussian pixel noise on 8x8 grey digits.

    Colour jitter and flips, part of the image views of SimCLR, make no sense
    for grey digits (a flipped 2 is not a 2); crops and noise are what is left.

    Args:
        crop_scale: lower bound of the random resized crop's area fraction.
        rotation: maximum rotation in degrees.
        noise_std: std of the Gaussian noise added after normalisation.
        n_views: views per example.
    """

    def __init__(self, crop_scale: float = 0.6, rotation: float = 10.0, noise_std: float = 0.1, n_views: int = 2):
        if not 0.0 < crop_scale <= 1.0:
            raise ValueError(f"crop_scale must lie in (0, 1], got {crop_scale}")
        if n_views < 1:
            raise ValueError(f"n_views must be >= 1, got {n_views}")
        self.n_views = n_views
        self.noise_std = noise_std
        from torchvision import transforms as T  # imported when built: the plugin loads fast

        normalize = T.Normalize([0.5], [0.5])
        self._train = T.Compose([
            T.RandomResizedCrop(8, scale=(crop_scale, 1.0), ratio=(0.8, 1.25), antialias=True),
            T.RandomRotation(rotation),
            T.ToTensor(),
            normalize,
        ])
        self._eval = T.Compose([T.ToTensor(), normalize])

    def train(self, x) -> torch.Tensor:
        view = self._train(x)
        return view + self.noise_std * torch.randn_like(view)

    def eval(self, x) -> torch.Tensor:
        return self._eval(x)
