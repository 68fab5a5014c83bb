"""VGG16 with batch normalisation: torchvision's convolutional part, pooled by global averaging."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ssl_encoders.pooling import global_avg_pool


def cached_weights_path(url: str) -> Path:
    """Where ``torch.hub`` keeps the file downloaded from ``url`` (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


class VGG16BN(nn.Module):
    """VGG16-bn (Simonyan & Zisserman, 2015): the hashing encoder of NAC (Sec. 5.3, after Yang et al., 2019).

    ``features`` is torchvision's ``vgg16_bn().features`` (13 conv-BN-ReLU
    layers, 5 max-pools; same parameter names), so a 32x32 input gives a
    512x1x1 pre-pool map and a 224x224 one 512x7x7. The pooled feature is the
    global average of that map (``feature_dim`` 512 at width 1); torchvision's
    4096-wide classifier is not part of the encoder, since NAC trains VGG16
    from scratch and puts its own projection head on top.

    ``pretrained: true`` loads torchvision's ImageNet weights
    (``VGG16_BN_Weights.IMAGENET1K_V1``, convolutional part only) from the
    torch hub cache; this library never downloads weights, so they must be
    there already.

    Args:
        pretrained: load torchvision's cached ImageNet weights (needs ``width`` 1 and 3 input channels).
        width: channel multiplier for every conv layer (1.0 is torchvision's network).
        in_channels: input channels (context).
    """

    torchvision_weights = "VGG16_BN_Weights.IMAGENET1K_V1"
    """torchvision's ImageNet weights for ``encoder.init_from: torchvision`` (its ``features.*``; ``pretrained: true``
    does the same)."""

    def __init__(self, pretrained: bool = False, width: float = 1.0, in_channels: int = 3):
        super().__init__()
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        if pretrained and width != 1.0:
            raise ValueError(f"width must be 1.0 with pretrained: true (the ImageNet weights are width 1), got {width}")
        if pretrained and in_channels != 3:
            raise ValueError(f"in_channels must be 3 with pretrained: true (the weights are RGB), got {in_channels}")
        from torchvision.models.vgg import cfgs, make_layers  # imported when built: the plugin loads fast

        cfg = [v if v == "M" else max(1, round(v * width)) for v in cfgs["D"]]
        self.features = make_layers(cfg, batch_norm=True)
        if in_channels != 3:
            self.features[0] = nn.Conv2d(in_channels, cfg[0], kernel_size=3, padding=1)
        self.feature_dim = cfg[-2]
        for m in self.modules():  # torchvision's VGG initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if pretrained:
            self.load_imagenet_weights()

    def load_imagenet_weights(self) -> None:
        """Load the convolutional part of torchvision's cached ImageNet weights.

        Raises:
            FileNotFoundError: the weights are not in the torch hub cache; the
                message says where they are expected and how to put them there.
        """
        from torchvision.models.vgg import VGG16_BN_Weights

        url = VGG16_BN_Weights.IMAGENET1K_V1.url
        path = cached_weights_path(url)
        if not path.is_file():
            raise FileNotFoundError(
                f"vgg16_bn pretrained: true needs torchvision's ImageNet weights at {path}, and there is no file there "
                f"(ssl-core never downloads weights). Fetch them once on a machine with internet: "
                f"python -c \"import torchvision; torchvision.models.vgg16_bn(weights='IMAGENET1K_V1')\" "
                f"(or download {url} into {path.parent}; TORCH_HOME moves the cache), or set pretrained: false."
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        try:
            self.features.load_state_dict(features)
        except RuntimeError as exc:
            raise RuntimeError(f"the weights file {path} does not hold vgg16_bn's convolutional layers: {exc}") from exc

    def forward_features(self, x: Tensor) -> Tensor:
        """The pre-pool map ``[B, feature_dim, H/32, W/32]``, the output of the last max-pool."""
        return self.features(x)

    def pool(self, fmap: Tensor) -> Tensor:
        """Global average pooling of the pre-pool map, ``[B, feature_dim]``."""
        return global_avg_pool(fmap)

    def forward(self, x: Tensor) -> Tensor:
        """The pooled feature, ``[B, feature_dim]``."""
        return self.pool(self.forward_features(x))
