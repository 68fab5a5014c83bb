"""ResNet-18 and ResNet-50 encoders with an ImageNet or CIFAR stem and a width multiplier.

Built from torchvision's own ``ResNet`` class and blocks, so that at width 1
the parameter names and shapes are those of ``torchvision.models.resnet18`` /
``resnet50`` without ``fc`` (weights load across with ``strict=False``, and
an exported backbone loads into torchvision). torchvision is imported when
an encoder is built, not when the plugin is loaded (``ssl-core plugins`` and
configuration checks stay fast).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from ssl_encoders.pooling import global_avg_pool

Stem = Literal["imagenet", "cifar"]
_STAGE_WIDTHS = (64, 128, 256, 512)


def _block(name: str):
    """torchvision's ``BasicBlock`` (``"basic"``) or ``Bottleneck`` (``"bottleneck"``)."""
    from torchvision.models import resnet

    return {"basic": resnet.BasicBlock, "bottleneck": resnet.Bottleneck}[name]


class ResNetEncoder(nn.Module):
    """A torchvision ResNet without its classifier, exposing the pre-pool map.

    Stems (``stem`` must be chosen, there is no default):

    - ``"imagenet"``: 7x7 convolution with stride 2 and a 3x3 max-pool
      (He et al., 2016), the encoder of the ImageNet and speech experiments;
      a 64x64 input gives a 512x2x2 pre-pool map, a 224x224 one 512x7x7.
    - ``"cifar"``: 3x3 convolution with stride 1 and no max-pool, the variant
      SimCLR (Chen et al., 2020a, App. B.9) and the NAC paper use on 32x32
      images; a 32x32 input gives a 512x4x4 pre-pool map.

    ``width`` multiplies the channels of the stem and of every stage (64, 128,
    256, 512 at width 1), rounding to the nearest integer (at least 1), a
    cheap way to run the paper's pipelines on a CPU. torchvision's
    ``_make_layer`` and blocks build the stages; only the widths passed to it
    change, so width 1 is exactly torchvision's network.

    Args:
        block: ``"basic"`` (torchvision's ``BasicBlock``, ResNet-18) or ``"bottleneck"`` (``Bottleneck``, ResNet-50).
        layers: blocks per stage.
        stem: ``"imagenet"`` or ``"cifar"``.
        width: channel multiplier, > 0.
        in_channels: input channels (context: 3 for RGB, 1 for spectrograms).
    """

    def __init__(self, block: Literal["basic", "bottleneck"], layers: list[int], stem: Stem, width: float = 1.0,
                 in_channels: int = 3):
        super().__init__()  # torchvision's ResNet.__init__ hard-codes the widths; its _make_layer is reused below
        block = _block(block)
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        widths = [max(1, round(c * width)) for c in _STAGE_WIDTHS]
        self.stem = stem
        self.width = width
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = widths[0]
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.feature_dim = widths[3] * block.expansion
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        """torchvision's ``ResNet._make_layer`` (it reads ``inplanes``, ``dilation``, ``groups``, ``base_width``)."""
        from torchvision.models.resnet import ResNet

        return ResNet._make_layer(self, block, planes, blocks, stride, dilate)

    def forward_features(self, x: Tensor) -> Tensor:
        """The pre-pool map ``[B, feature_dim, H', W']``, the output of ``layer4``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def pool(self, fmap: Tensor) -> Tensor:
        """Global average pooling of the pre-pool map, ``[B, feature_dim]``."""
        return global_avg_pool(fmap)

    def forward(self, x: Tensor) -> Tensor:
        """The pooled feature ``h = f(x)``, ``[B, feature_dim]``."""
        return self.pool(self.forward_features(x))


class ResNet18(ResNetEncoder):
    """ResNet-18 (He et al., 2016), the encoder of the CNCE Ring paper; 512 features at width 1.

    Args:
        stem: ``"imagenet"`` (7x7/2 conv + max-pool) or ``"cifar"`` (3x3/1 conv, no max-pool); required.
        width: channel multiplier for every stage (1.0 is torchvision's network).
        in_channels: input channels (context: 3 for RGB, 1 for spectrograms).
    """

    torchvision_weights = "ResNet18_Weights.IMAGENET1K_V1"
    """torchvision's ImageNet weights for ``encoder.init_from: torchvision`` (width 1, ImageNet stem, RGB)."""

    def __init__(self, stem: Stem, width: float = 1.0, in_channels: int = 3):
        super().__init__("basic", [2, 2, 2, 2], stem=stem, width=width, in_channels=in_channels)


class ResNet50(ResNetEncoder):
    """ResNet-50 (He et al., 2016; torchvision's v1.5 bottleneck), the NAC ImageNet encoder; 2048 features at width 1.

    Args:
        stem: ``"imagenet"`` (7x7/2 conv + max-pool) or ``"cifar"`` (3x3/1 conv, no max-pool); required.
        width: channel multiplier for every stage (1.0 is torchvision's network).
        in_channels: input channels (context: 3 for RGB, 1 for spectrograms).
    """

    torchvision_weights = "ResNet50_Weights.IMAGENET1K_V1"
    """torchvision's ImageNet weights for ``encoder.init_from: torchvision`` (width 1, ImageNet stem, RGB)."""

    def __init__(self, stem: Stem, width: float = 1.0, in_channels: int = 3):
        super().__init__("bottleneck", [3, 4, 6, 3], stem=stem, width=width, in_channels=in_channels)
