"""Export formats of the library's encoders: torchvision's ResNet state dict and Detectron2's ResNet checkpoint.

Only what the target model can load is written: a ResNet-18 / ResNet-50
with the ImageNet stem, width 1 and 3 input channels is exactly torchvision's
``resnet18()`` / ``resnet50()`` without ``fc`` (and Detectron2's R-18 / R-50
backbone); every other encoder is refused with an :class:`ExportError` naming
what is supported.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from ssl_core.atomic_write import atomic_torch_save, atomic_write, tensor_bytes
from ssl_core.errors import ExportError

from ssl_encoders.resnet import ResNet18, ResNet50

SUPPORTED = ("resnet18 or resnet50 with stem: imagenet, width: 1 and 3 input channels (the trained backbone "
             "itself, so not CMC's two channel-split copies)")


def torchvision_resnet(encoder: nn.Module, fmt: str) -> str:
    """``"resnet18"`` or ``"resnet50"``: the torchvision model whose layout ``encoder`` has, or an ExportError."""
    name = {ResNet18: "resnet18", ResNet50: "resnet50"}.get(type(encoder))
    if name is None:
        raise ExportError(f"the {fmt} format holds {SUPPORTED}; this run's backbone is {type(encoder).__name__}, "
                          f"which has no {fmt} counterpart")
    problems = []
    if encoder.stem != "imagenet":
        problems.append(f"stem '{encoder.stem}' (torchvision's and Detectron2's ResNets have the ImageNet stem: "
                        f"7x7/2 convolution and max-pool)")
    if encoder.width != 1:
        problems.append(f"width {encoder.width} (their channels are those of width 1)")
    if encoder.conv1.in_channels != 3:
        problems.append(f"{encoder.conv1.in_channels} input channels (they take RGB images)")
    if problems:
        raise ExportError(f"the {fmt} format holds {SUPPORTED}; this run's {name} has " + " and ".join(problems))
    return name


class TorchvisionExport:
    """A state dict that ``torchvision.models.resnet18()`` / ``resnet50()`` loads with ``strict=True``.

    The trained backbone's weights under torchvision's own names (the
    encoder is built from torchvision's ``ResNet`` class), and a classifier
    ``fc`` that was not trained: freshly initialised as torchvision does
    (``nn.Linear(feature_dim, num_classes)``), sized by ``num_classes`` so the
    file loads into ``resnet18(num_classes=N)`` for a new task.

    Args:
        num_classes: outputs of the fresh ``fc`` (1000: torchvision's default model).
    """

    file_name = "backbone_torchvision.pth"

    def __init__(self, num_classes: int = 1000):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes

    def convert(self, encoder: nn.Module) -> tuple[str, dict[str, torch.Tensor]]:
        """The torchvision model's name and the state dict it loads with ``strict=True``."""
        name = torchvision_resnet(encoder, "torchvision")
        state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
        fc = nn.Linear(encoder.feature_dim, self.num_classes)  # nn.Linear's own init, as torchvision's fc
        state.update({f"fc.{k}": v.detach().clone() for k, v in fc.state_dict().items()})
        return name, state

    def write(self, encoder: nn.Module, out: Path) -> str:
        name, state = self.convert(encoder)
        atomic_torch_save(state, out)
        return (f"load it with torchvision.models.{name}(num_classes={self.num_classes}).load_state_dict("
                f"torch.load(path)); its fc ({encoder.feature_dim} -> {self.num_classes}) is freshly initialised, "
                f"not trained")


def to_detectron2(state: dict[str, torch.Tensor]) -> dict:
    """Rename torchvision ResNet keys to Detectron2's, as MoCo's ``convert-pretrain-to-detectron2.py`` does.

    ``conv1/bn1`` -> ``stem.conv1`` / ``stem.conv1.norm``; ``layerN`` -> ``res{N+1}``;
    ``bnK`` -> ``convK.norm``; ``downsample.0/1`` -> ``shortcut`` / ``shortcut.norm``;
    ``num_batches_tracked`` and ``fc`` are dropped.
    """
    converted = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked") or key.startswith("fc."):
            continue
        new = key if "layer" in key else "stem." + key
        for t in (1, 2, 3, 4):
            new = new.replace(f"layer{t}", f"res{t + 1}")
        for t in (1, 2, 3):
            new = new.replace(f"bn{t}", f"conv{t}.norm")
        new = new.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")
        converted[new] = value.detach().cpu().numpy()
    return {"model": converted, "__author__": "ssl-core", "matching_heuristics": True}


class Detectron2Export:
    """A Detectron2 checkpoint (``.pkl``) of the backbone, for ``MODEL.WEIGHTS`` of an R-18 / R-50 config.

    Keys as MoCo's conversion writes them (:func:`to_detectron2`); set
    ``MODEL.RESNETS.DEPTH`` to 18 or 50 (R-18 also needs
    ``MODEL.RESNETS.RES2_OUT_CHANNELS: 64``) and, as for MoCo,
    ``MODEL.PIXEL_MEAN/STD`` to the pretraining's normalisation with
    ``INPUT.FORMAT: RGB``.
    """

    file_name = "backbone_detectron2.pkl"

    def write(self, encoder: nn.Module, out: Path) -> str:
        name = torchvision_resnet(encoder, "detectron2")
        checkpoint = to_detectron2(encoder.state_dict())
        atomic_write(out, lambda f: pickle.dump(checkpoint, f), needed=tensor_bytes(encoder.state_dict()))
        depth = name.removeprefix("resnet")
        extra = " and MODEL.RESNETS.RES2_OUT_CHANNELS 64" if depth == "18" else ""
        return f"use it as MODEL.WEIGHTS with MODEL.RESNETS.DEPTH {depth}{extra} (no classifier in it)"
