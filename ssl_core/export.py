"""``ssl-core export``: the pretrained backbone for downstream tools (torchvision, Detectron2)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Literal

import torch

from ssl_core.api import load_run
from ssl_core.atomic_write import atomic_torch_save, atomic_write, tensor_bytes
from ssl_core.checkpoint_io import safe_torch_load


def trained_encoder_state(run_dir: Path, registry=None) -> dict[str, torch.Tensor]:
    """The trained encoder's state dict (torchvision names for the ResNet encoders, no ``fc``), on the CPU."""
    trained = load_run(run_dir, registry, device="cpu")
    return {k: v.detach().cpu() for k, v in trained.encoder.state_dict().items()}


def to_detectron2(state: dict[str, torch.Tensor]) -> dict:
    """Rename torchvision ResNet keys to Detectron2's, as MoCo's ``convert-pretrain-to-detectron2.py`` does.

    ``conv1/bn1`` -> ``stem.conv1`` / ``stem.conv1.norm``; ``layerN`` -> ``res{N+1}``;
    ``bnK`` -> ``convK.norm``; ``downsample.0/1`` -> ``shortcut`` / ``shortcut.norm``.
    """
    converted = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        new = key if "layer" in key else "stem." + key
        for t in (1, 2, 3, 4):
            new = new.replace(f"layer{t}", f"res{t + 1}")
        for t in (1, 2, 3):
            new = new.replace(f"bn{t}", f"conv{t}.norm")
        new = new.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")
        converted[new] = value.numpy()
    return {"model": converted, "__author__": "ssl-core", "matching_heuristics": True}


def export(run_dir: Path, fmt: Literal["torchvision", "detectron2"], out: Path | None = None) -> Path:
    """Write the backbone as a torchvision state dict (``.pth``) or a Detectron2 checkpoint (``.pkl``)."""
    state = trained_encoder_state(run_dir)
    if fmt == "torchvision":
        out = Path(out or Path(run_dir) / "backbone_torchvision.pth")
        atomic_torch_save(state, out)
    elif fmt == "detectron2":
        if not any(k.startswith("layer1.") for k in state):
            raise ValueError("the Detectron2 format needs a ResNet encoder (resnet18 / resnet50)")
        out = Path(out or Path(run_dir) / "backbone_detectron2.pkl")
        atomic_write(out, lambda f: pickle.dump(to_detectron2(state), f), needed=tensor_bytes(state))
    else:
        raise ValueError(f"unknown format '{fmt}'; valid choices: torchvision, detectron2")
    return out
