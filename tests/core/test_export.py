"""export: the backbone under torchvision's and Detectron2's key names."""

from __future__ import annotations

import pickle

import torch
import torchvision

from ssl_core import make_registry
from ssl_core.cli import main
from ssl_core.export import to_detectron2

from pipeline_helpers import tiny_pipeline


def resnet18_state():
    registry = make_registry(autoload=False, warn=False)
    return registry.build("encoder", "resnet18", {"stem": "imagenet"}, in_channels=3).state_dict()


def test_torchvision_names_load_into_torchvision_resnet18():
    missing, unexpected = torchvision.models.resnet18().load_state_dict(resnet18_state(), strict=False)
    assert sorted(missing) == ["fc.bias", "fc.weight"] and unexpected == []


def test_detectron2_names_follow_the_moco_conversion():
    model = to_detectron2(resnet18_state())["model"]
    for key in ("stem.conv1.weight", "stem.conv1.norm.weight", "stem.conv1.norm.running_var",
                "res2.0.conv1.weight", "res2.0.conv2.norm.bias", "res3.0.shortcut.weight",
                "res3.0.shortcut.norm.running_mean", "res5.1.conv2.norm.weight"):
        assert key in model, key
    assert not any("layer" in k or "bn" in k or "num_batches_tracked" in k for k in model)
    assert len(model) == len([k for k in resnet18_state() if not k.endswith("num_batches_tracked")])


def test_export_a_trained_run(tmp_path):
    extra = ""
    path = tiny_pipeline(tmp_path, extra=extra)
    path.write_text(path.read_text().replace("encoder: {name: small_cnn, params: {width: 4}}",
                                             "encoder: {name: resnet18, params: {stem: cifar, width: 0.125}}"))
    assert main(["run", str(path), "train.max_steps=2"]) == 0
    run = tmp_path / "run"
    assert main(["export", str(run), "--format", "torchvision"]) == 0
    state = torch.load(run / "backbone_torchvision.pth", weights_only=True)
    assert "layer4.1.bn2.running_mean" in state and "fc.weight" not in state
    trained = torch.load(run / "model.pt", weights_only=True)
    assert torch.equal(state["conv1.weight"], trained["encoder.conv1.weight"])
    assert main(["export", str(run), "--format", "detectron2"]) == 0
    with open(run / "backbone_detectron2.pkl", "rb") as f:
        d2 = pickle.load(f)
    assert (d2["model"]["stem.conv1.weight"] == state["conv1.weight"].numpy()).all()
