"""Spectral augmentations: time and frequency masking, Gaussian noise.

SpecAugment masking (Park et al. 2019, arXiv:1904.08779, Sec. 2): a band of
``w`` consecutive mel channels (or time frames) is masked, ``w`` uniform in
``[0, max_width]`` and its start uniform in ``[0, n - w]``. Tamkin et al.
(2020) mask one band of each kind on the power spectrogram (masked cells set
to 0 before the log, through nlpaug's ``FrequencyMaskingAug(40)`` and
``TimeMaskingAug(40)``, widths up to 39) and add Gaussian noise with a
quarter of the data's standard deviation.

All randomness comes from torch's global RNG (the trainer reseeds it per
item). A mask is shared by every leading (batch or channel) index of its
input: call the functions once per example for per-example masks.
"""

from __future__ import annotations

import torch


def mask_span(n: int, max_width: int) -> tuple[int, int]:
    """Draw one band ``(start, width)`` over ``n`` positions.

    ``width`` is uniform in ``[0, min(max_width, n)]`` and ``start`` uniform in
    ``[0, n - width]``, so the band always lies inside.
    """
    if max_width < 0:
        raise ValueError(f"max_width must be >= 0, got {max_width}")
    width = int(torch.randint(0, min(max_width, n) + 1, ()))
    start = int(torch.randint(0, n - width + 1, ()))
    return start, width


def _mask(spec: torch.Tensor, dim: int, max_width: int, num_masks: int, value: float, inplace: bool) -> torch.Tensor:
    if num_masks < 0:
        raise ValueError(f"num_masks must be >= 0, got {num_masks}")
    out = spec if inplace else spec.clone()
    n = spec.shape[dim]
    for _ in range(num_masks):
        start, width = mask_span(n, max_width)
        out.narrow(dim, start, width).fill_(value)
    return out


def freq_mask(
    spec: torch.Tensor, max_width: int, num_masks: int = 1, value: float = 0.0, inplace: bool = False
) -> torch.Tensor:
    """Mask ``num_masks`` bands of mel channels (axis -2) of ``[..., n_mels, frames]``.

    Args:
        spec: the spectrogram (a masked copy is returned unless ``inplace``).
        max_width: largest band width, in channels.
        num_masks: bands drawn independently (they may overlap).
        value: what masked cells are set to (0 on a power or a z-scored
            spectrogram; ``10 * log10(amin)`` on a dB one stands for zero power).
        inplace: mask ``spec`` itself.
    """
    return _mask(spec, -2, max_width, num_masks, value, inplace)


def time_mask(
    spec: torch.Tensor, max_width: int, num_masks: int = 1, value: float = 0.0, inplace: bool = False
) -> torch.Tensor:
    """Mask ``num_masks`` bands of frames (axis -1) of ``[..., n_mels, frames]``; see :func:`freq_mask`."""
    return _mask(spec, -1, max_width, num_masks, value, inplace)


def gaussian_noise(x: torch.Tensor, scale: float, data_std: float = 1.0) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``scale * data_std``.

    Args:
        x: the input (on z-scored data ``data_std`` is 1).
        scale: noise level in units of the data's standard deviation
            (Tamkin et al. use 0.25).
        data_std: the data's standard deviation.
    """
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    if scale == 0:
        return x
    return x + torch.randn_like(x) * (scale * data_std)
