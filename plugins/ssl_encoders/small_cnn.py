"""A small convolutional encoder for tiny images (the digits quick start, tests)."""

from __future__ import annotations

from torch import Tensor, nn


class SmallCNN(nn.Module):
    """Three 3x3 conv-BN-ReLU blocks, the last two with stride 2, then global average pooling.

    Args:
        width: channels of the first block; the others double it.
        in_channels: input channels (context, from the data).
    """

    def __init__(self, width: int = 32, in_channels: int = 3):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        widths = [width, 2 * width, 4 * width]
        layers, c_in = [], in_channels
        for i, c_out in enumerate(widths):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.feature_dim = widths[-1]

    def forward_features(self, x: Tensor) -> Tensor:
        """The pre-pool map ``[B, 4*width, H/4, W/4]``."""
        return self.features(x)

    def pool(self, fmap: Tensor) -> Tensor:
        return fmap.mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.forward_features(x))
