"""Global average pooling: the step from an encoder's pre-pool map to its feature vector."""

from __future__ import annotations

from torch import Tensor


def global_avg_pool(fmap: Tensor) -> Tensor:
    """Average a feature map ``[B, C, H, W]`` over its spatial positions, giving ``[B, C]``.

    This is the ``avgpool`` + ``flatten`` of torchvision's ResNet (He et al.,
    2016) written as one function, so that every encoder pools the same way.
    """
    if fmap.dim() != 4:
        raise ValueError(f"fmap must be a 4-d map [B, C, H, W], got shape {tuple(fmap.shape)}")
    return fmap.mean(dim=(2, 3))
