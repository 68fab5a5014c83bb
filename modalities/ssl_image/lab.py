"""sRGB to CIE L*a*b* (D65) on tensors, the colour space of CMC's two views (Tian et al., 2019)."""

from __future__ import annotations

import torch
from torch import Tensor

LAB_MEAN = (50.0, 5.98, -6.69)
"""Per-channel mean of L, a, b used by CMC's reference code to normalise Lab images (REFERENCE.md)."""
LAB_STD = (50.0, 92.21, 101.17)
"""Per-channel std of L, a, b used by CMC's reference code."""

# sRGB primaries to XYZ and the D65 white point, the constants of skimage.color.rgb2lab (CMC converts with it).
_RGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                            [0.212671, 0.715160, 0.072169],
                            [0.019334, 0.119193, 0.950227]], dtype=torch.float64)
_WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """Convert sRGB in [0, 1], channels first (``[..., 3, H, W]``), to L*a*b* (L in [0, 100]).

    The steps and constants of ``skimage.color.rgb2lab`` with its default
    D65 illuminant and 2-degree observer: undo the sRGB gamma, map to XYZ,
    scale by the white point and apply the CIE 1976 L*a*b* formula with its
    linear segment below (6/29)^3. White gives (100, 0, 0), pure red
    (53.24, 80.09, 67.20).
    """
    if rgb.dim() < 3 or rgb.shape[-3] != 3:
        raise ValueError(f"rgb must have 3 channels at dim -3, got shape {tuple(rgb.shape)}")
    x = rgb if rgb.is_floating_point() else rgb.float()
    linear = torch.where(x > 0.04045, ((x + 0.055) / 1.055).pow(2.4), x / 12.92)
    # XYZ scaled by the white point, as one matrix product over the channel axis
    matrix = (_RGB_TO_XYZ / _WHITE_D65[:, None]).to(device=x.device, dtype=x.dtype)
    xyz = torch.matmul(matrix, linear.flatten(-2)).view_as(linear)
    f = torch.where(xyz > 0.008856, xyz.clamp(min=0.008856).pow(1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


class RGBToLab:
    """A transform: an RGB tensor in [0, 1] ``[3, H, W]`` to L*a*b* (see :func:`rgb_to_lab`)."""

    def __call__(self, rgb: Tensor) -> Tensor:
        return rgb_to_lab(rgb)

    def __repr__(self) -> str:
        return "RGBToLab()"
