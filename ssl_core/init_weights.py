"""``encoder.init_from``: start an encoder from a trained run, a saved state dict, or torchvision's ImageNet weights.

Continued pretraining or fine-tuning from a run (``init_from: runs/nac_smallcnn32_1xb128-coslr-12e_digits``),
from an encoder state dict such as ``ssl-core export``'s
``backbone_torchvision.pth`` (``init_from: path/to/weights.pt``), or from
torchvision's ImageNet weights for the encoders that have them
(``init_from: torchvision``; the encoder class names them in its
``torchvision_weights`` attribute, e.g. ``"ResNet18_Weights.IMAGENET1K_V1"``).
Files are read with ``weights_only=True``, and nothing is downloaded: the
torchvision file must be in the torch hub cache already.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ssl_core.errors import SslCoreError

TORCHVISION = "torchvision"


class InitWeightsError(SslCoreError):
    """The weights of ``encoder.init_from`` are absent, unreadable, or do not fit the encoder."""


def _encoder_keys(state: dict) -> dict:
    """The encoder's entries of a state dict: as they are, or under ``encoder.`` / ``objective.encoder.`` prefixes."""
    for prefix in ("objective.encoder.", "encoder."):
        inner = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if inner:
            return inner
    return state


def from_run(run_dir: Path, registry=None) -> dict:
    """The trained encoder's state dict of the run in ``run_dir`` (:func:`ssl_core.load_run`)."""
    from ssl_core.api import load_run

    return load_run(run_dir, registry, device="cpu").encoder.state_dict()


def from_file(path: Path) -> dict:
    """An encoder state dict read from ``path`` (``weights_only=True``); a run's ``model.pt`` or a Lightning
    checkpoint gives the encoder's part of it."""
    from ssl_core.checkpoint_io import safe_torch_load

    state = safe_torch_load(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a Lightning checkpoint
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InitWeightsError(f"encoder.init_from: {path} holds no state dict of tensors")
    return _encoder_keys(state)


def from_torchvision(encoder: nn.Module) -> dict:
    """torchvision's ImageNet weights for ``encoder`` from the torch hub cache, without the classifier (``fc.*``,
    ``classifier.*``)."""
    name = getattr(encoder, "torchvision_weights", None)
    if name is None:
        raise InitWeightsError(f"encoder.init_from: torchvision has no weights for the encoder "
                               f"{type(encoder).__name__}; use a run folder or a state dict file instead")
    import torchvision.models as models

    enum_name, member = name.split(".")
    url = getattr(getattr(models, enum_name), member).url
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if not path.is_file():
        raise InitWeightsError(
            f"encoder.init_from: torchvision's {name} are not at {path} (ssl-core never downloads weights); fetch "
            f"them once on a machine with internet (python -c \"import torchvision; torchvision.models.get_weight("
            f"'{name}').get_state_dict()\") or download {url} into {path.parent}")
    own = encoder.state_dict()
    return {k: v for k, v in from_file(path).items()  # torchvision's classifier is not part of the encoder
            if k in own or not k.startswith(("fc.", "classifier."))}


def load_initial_weights(encoder: nn.Module, init_from: str, registry=None) -> str:
    """Load ``init_from`` into ``encoder`` (every parameter and buffer, same shapes); a description for the record.

    Raises:
        InitWeightsError: the source is absent or unreadable, or its keys or shapes differ from the encoder's
            (naming the first differences: a different ``encoder.params`` such as ``width`` is the usual cause).
    """
    if init_from == TORCHVISION:
        state, what = from_torchvision(encoder), f"torchvision's {encoder.torchvision_weights}"
    else:
        path = Path(init_from).expanduser()
        if path.is_dir():
            state, what = from_run(path, registry), f"the trained encoder of the run {path}"
        elif path.is_file():
            state, what = from_file(path), f"the state dict {path}"
        else:
            raise InitWeightsError(f"encoder.init_from: {init_from} is neither a run folder, a file, nor "
                                   f"'{TORCHVISION}'")
    own = encoder.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [f"{k}: {tuple(state[k].shape)} there, {tuple(v.shape)} here" for k, v in own.items()
              if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = ([f"shapes differ ({'; '.join(shapes[:3])}{' ...' if len(shapes) > 3 else ''})"] if shapes else []) + \
                ([f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"] if missing else []) + \
                ([f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}"] if unexpected else [])
        raise InitWeightsError(f"encoder.init_from: {what} does not fit this encoder: {'; '.join(parts)}; give the "
                               f"encoder the same name and params (width, stem, in_channels) as the weights' one")
    encoder.load_state_dict(state)
    return what
