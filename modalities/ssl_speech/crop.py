"""Cropping or zero-padding a signal to a fixed length, along any axis.

Used on waveforms (crop or pad to ``num_samples``, as Tamkin et al. 2020 do
before the log-mel) and on cached spectrogram frames (crop ``size`` frames).
Random offsets come from torch's global RNG, which the trainer reseeds per
item, so a view is reproducible from the trainer's seed.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

CropMode = Literal["random", "center", "start"]


def crop_offset(total: int, length: int, mode: CropMode) -> int:
    """Start of a ``length`` window inside ``total`` positions.

    Args:
        total: positions available.
        length: window length.
        mode: ``"random"`` (uniform over every valid start, torch RNG),
            ``"center"`` (``(total - length) // 2``) or ``"start"`` (0).

    Returns:
        The offset; 0 when the window does not fit (the caller pads).
    """
    if mode not in ("random", "center", "start"):
        raise ValueError(f"mode must be 'random', 'center' or 'start', got {mode!r}")
    slack = total - length
    if slack <= 0 or mode == "start":
        return 0
    if mode == "center":
        return slack // 2
    return int(torch.randint(0, slack + 1, ()))


def crop_or_pad(x: torch.Tensor, length: int, mode: CropMode = "center", dim: int = -1) -> torch.Tensor:
    """``x`` cut to ``length`` along ``dim``, or zero-padded at the end when shorter.

    Zero-padding at the end is the reference's padding "with silence".

    Args:
        x: any tensor.
        length: the length wanted along ``dim``.
        mode: where a longer ``x`` is cut (see :func:`crop_offset`).
        dim: the axis.
    """
    if length <= 0:
        raise ValueError(f"length must be > 0, got {length}")
    dim = dim % x.dim()
    total = x.shape[dim]
    if total < length:
        pad = [0, 0] * (x.dim() - 1 - dim) + [0, length - total]
        return F.pad(x, pad)
    return x.narrow(dim, crop_offset(total, length, mode), length)
