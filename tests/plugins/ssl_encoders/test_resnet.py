"""ResNet encoders: shapes, stems, width multiplier, channels and torchvision key names."""

from __future__ import annotations

import pytest
import torch
import torchvision

from ssl_encoders.resnet import ResNet18, ResNet50


def test_resnet18_imagenet_stem_prepool_is_512x2x2_on_64x64():
    with torch.device("meta"):  # shapes only: no weight initialisation cost at full width
        enc = ResNet18(stem="imagenet").eval()
        fmap = enc.forward_features(torch.empty(2, 3, 64, 64))
        pooled = enc(torch.empty(2, 3, 64, 64))
    assert fmap.shape == (2, 512, 2, 2)
    assert pooled.shape == (2, 512)
    assert enc.feature_dim == 512


def test_forward_is_pool_of_forward_features():
    enc = ResNet18(stem="imagenet", width=0.125).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(enc(x), enc.pool(enc.forward_features(x)))


def test_resnet18_cifar_stem_keeps_resolution():
    enc = ResNet18(stem="cifar", width=0.25).eval()
    fmap = enc.forward_features(torch.randn(2, 3, 32, 32))
    assert fmap.shape == (2, 128, 4, 4)  # stride 1, no max-pool: 32 / 8
    assert enc.conv1.kernel_size == (3, 3) and enc.conv1.stride == (1, 1)
    assert isinstance(enc.maxpool, torch.nn.Identity)


def test_width_multiplier_scales_every_stage():
    enc = ResNet18(stem="cifar", width=0.125)
    assert enc.conv1.out_channels == 8
    assert [enc.layer1[0].conv1.out_channels, enc.layer2[0].conv1.out_channels,
            enc.layer3[0].conv1.out_channels, enc.layer4[0].conv1.out_channels] == [8, 16, 32, 64]
    assert enc.feature_dim == 64
    with torch.device("meta"):
        full = sum(p.numel() for p in ResNet18(stem="cifar").parameters())
    assert sum(p.numel() for p in enc.parameters()) < full / 30


def test_one_input_channel_for_spectrograms():
    enc = ResNet18(stem="imagenet", width=0.25, in_channels=1).eval()
    assert enc.conv1.in_channels == 1
    assert enc.forward_features(torch.randn(2, 1, 64, 64)).shape == (2, 128, 2, 2)


def test_resnet50_bottleneck_feature_dim():
    enc = ResNet50(stem="cifar", width=0.125).eval()
    assert enc.feature_dim == 64 * 4
    out = enc(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 256)


@pytest.mark.parametrize("ours, theirs", [(ResNet18, torchvision.models.resnet18),
                                          (ResNet50, torchvision.models.resnet50)])
def test_parameter_names_and_shapes_match_torchvision(ours, theirs):
    with torch.device("meta"):  # names and shapes only
        mine = {k: v.shape for k, v in ours(stem="imagenet").state_dict().items()}
        reference = {k: v.shape for k, v in theirs().state_dict().items() if not k.startswith("fc.")}
    assert mine == reference  # so a torchvision state dict minus "fc." loads strictly, and back


@pytest.mark.parametrize("kwargs, key", [({"stem": "imagenet", "width": 0.0}, "width"),
                                         ({"stem": "mnist"}, "stem"),
                                         ({"stem": "cifar", "in_channels": 0}, "in_channels")])
def test_out_of_range_params_name_the_param(kwargs, key):
    with pytest.raises(ValueError, match=f"^{key}"):
        ResNet18(**kwargs)


def test_stem_is_required_through_the_registry():
    from ssl_core.errors import ParamError
    from ssl_core.registry import make_registry

    registry = make_registry(autoload=False, warn=False)
    if "resnet18" not in registry.names("encoder"):
        pytest.skip("resnet18 not registered in ssl_encoders.plugin yet")
    with pytest.raises(ParamError, match="stem"):
        registry.build("encoder", "resnet18", {}, in_channels=3)
    enc = registry.build("encoder", "resnet18", {"stem": "cifar", "width": 0.125}, in_channels=1)
    assert enc.conv1.in_channels == 1
