"""The torchvision and Detectron2 exports load into the models the README names; other encoders are refused."""

from __future__ import annotations

import pickle

import pytest
import torch
import torchvision

from ssl_core import make_registry
from ssl_core.errors import ExportError
from ssl_encoders.export_formats import Detectron2Export, TorchvisionExport, to_detectron2


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def encoder(registry, name, in_channels=3, **params):
    torch.manual_seed(0)
    return registry.build("encoder", name, params, in_channels=in_channels)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_torchvision_export_loads_strictly_into_torchvision_and_computes_the_same_features(tmp_path, registry, name):
    trained = encoder(registry, name, stem="imagenet").eval()
    note = TorchvisionExport().write(trained, tmp_path / "b.pth")
    model = getattr(torchvision.models, name)()
    model.load_state_dict(torch.load(tmp_path / "b.pth", weights_only=True))  # strict=True: nothing missing
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    model.fc = torch.nn.Identity()
    assert torch.allclose(model(x), trained(x), atol=1e-5)  # the same network: the pooled feature
    assert f"torchvision.models.{name}(num_classes=1000)" in note and "freshly initialised" in note


def test_num_classes_sizes_the_fresh_classifier(tmp_path, registry):
    TorchvisionExport(num_classes=10).write(encoder(registry, "resnet18", stem="imagenet"), tmp_path / "b.pth")
    state = torch.load(tmp_path / "b.pth", weights_only=True)
    torchvision.models.resnet18(num_classes=10).load_state_dict(state)
    assert state["fc.weight"].shape == (10, 512)
    with pytest.raises(ValueError, match="num_classes"):
        TorchvisionExport(num_classes=0)


@pytest.mark.parametrize("name, params, in_channels, says", [
    ("resnet18", {"stem": "cifar"}, 3, "stem 'cifar'"),
    ("resnet50", {"stem": "imagenet", "width": 0.25}, 3, "width 0.25"),
    ("resnet18", {"stem": "imagenet"}, 1, "1 input channels"),
    ("small_cnn", {"width": 4}, 3, "SmallCNN"),
    ("vgg16_bn", {"width": 0.125}, 3, "VGG16BN"),
])
@pytest.mark.parametrize("fmt", [TorchvisionExport, Detectron2Export])
def test_encoders_without_a_counterpart_are_refused_naming_what_is_supported(tmp_path, registry, name, params,
                                                                             in_channels, says, fmt):
    with pytest.raises(ExportError, match="resnet18 or resnet50 with stem: imagenet, width: 1") as info:
        fmt().write(encoder(registry, name, in_channels, **params), tmp_path / "out")
    assert says in str(info.value)
    assert not (tmp_path / "out").exists()


def detectron2_resnet_names(depth: int) -> set[str]:
    """Detectron2's ResNet parameter and buffer names (detectron2/modeling/backbone/resnet.py), written out.

    ``stem.conv1`` with its ``norm``; stages ``res2``..``res5`` of (2, 2, 2, 2)
    BasicBlocks (R-18: ``conv1``, ``conv2``) or (3, 4, 6, 3) BottleneckBlocks
    (R-50: ``conv1``..``conv3``), each conv with a FrozenBN/BN ``norm``; a
    ``shortcut`` conv + norm on a stage's first block when its input and output
    channels differ (every stage of R-50, res3..res5 of R-18).
    """
    norm = ("weight", "bias", "running_mean", "running_var")
    names = {"stem.conv1.weight", *(f"stem.conv1.norm.{n}" for n in norm)}
    blocks, convs = ((2, 2, 2, 2), 2) if depth == 18 else ((3, 4, 6, 3), 3)
    for stage, count in enumerate(blocks, start=2):
        for b in range(count):
            prefix = f"res{stage}.{b}"
            for c in range(1, convs + 1):
                names |= {f"{prefix}.conv{c}.weight", *(f"{prefix}.conv{c}.norm.{n}" for n in norm)}
            if b == 0 and (depth == 50 or stage > 2):
                names |= {f"{prefix}.shortcut.weight", *(f"{prefix}.shortcut.norm.{n}" for n in norm)}
    return names


@pytest.mark.parametrize("name, depth", [("resnet18", 18), ("resnet50", 50)])
def test_detectron2_export_has_exactly_detectron2s_resnet_names_with_the_weights(tmp_path, registry, name, depth):
    trained = encoder(registry, name, stem="imagenet")
    note = Detectron2Export().write(trained, tmp_path / "b.pkl")
    with open(tmp_path / "b.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    model = checkpoint["model"]
    assert set(model) == detectron2_resnet_names(depth)
    assert checkpoint["matching_heuristics"] is True
    state = trained.state_dict()
    assert (model["stem.conv1.norm.running_var"] == state["bn1.running_var"].numpy()).all()
    assert (model["res3.0.shortcut.weight"] == state["layer2.0.downsample.0.weight"].numpy()).all()
    assert (model[f"res5.1.conv{2 if depth == 18 else 3}.norm.bias"]
            == state[f"layer4.1.bn{2 if depth == 18 else 3}.bias"].numpy()).all()
    assert f"MODEL.RESNETS.DEPTH {depth}" in note


def test_to_detectron2_drops_the_classifier_and_batch_counts():
    state = torchvision.models.resnet18().state_dict()
    assert set(to_detectron2(state)["model"]) == detectron2_resnet_names(18)
