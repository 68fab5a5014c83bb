"""VGG16-bn encoder: pooled and pre-pool shapes, torchvision names, cached-only pretrained weights."""

from __future__ import annotations

import pytest
import torch
import torchvision

from ssl_encoders.vgg import VGG16BN, cached_weights_path


def test_shapes_on_cifar_sized_input():
    enc = VGG16BN(width=0.125).eval()
    x = torch.randn(2, 3, 32, 32)
    fmap = enc.forward_features(x)
    assert fmap.shape == (2, 64, 1, 1)
    assert enc.feature_dim == 64
    torch.testing.assert_close(enc(x), enc.pool(fmap))


def test_features_match_torchvision_names_and_shapes():
    with torch.device("meta"):  # names and shapes only
        mine = {k: v.shape for k, v in VGG16BN().features.state_dict().items()}
        reference = {k: v.shape for k, v in torchvision.models.vgg16_bn().features.state_dict().items()}
    assert mine == reference


def test_in_channels_one():
    enc = VGG16BN(width=0.125, in_channels=1).eval()
    assert enc(torch.randn(2, 1, 32, 32)).shape == (2, 64)


def test_pretrained_without_cached_weights_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError, match="never downloads.*pretrained: false"):
        VGG16BN(pretrained=True)


def test_pretrained_loads_the_cached_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    source = VGG16BN()  # stands in for torchvision's file: same names under "features."
    source.features[-3].running_mean.uniform_()
    path = cached_weights_path(torchvision.models.VGG16_BN_Weights.IMAGENET1K_V1.url)
    path.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in source.features.state_dict().items()}, path)
    loaded = VGG16BN(pretrained=True)
    torch.testing.assert_close(loaded.features[0].weight, source.features[0].weight)
    torch.testing.assert_close(loaded.features[-3].running_mean, source.features[-3].running_mean)


def test_pretrained_needs_width_one_and_rgb():
    with pytest.raises(ValueError, match="^width"):
        VGG16BN(pretrained=True, width=0.5)
    with pytest.raises(ValueError, match="^in_channels"):
        VGG16BN(pretrained=True, in_channels=1)
