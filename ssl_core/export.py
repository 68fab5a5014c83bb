"""``ssl-core export``: the pretrained backbone for downstream tools, in a format a plugin provides.

The core knows no format: each is a component of the kind ``export_format``
(hook ``ssl_core_export_formats``), provided by the plugin that knows its
encoders' module names (``ssl_encoders``: ``torchvision``, ``detectron2``).
"""

from __future__ import annotations

from pathlib import Path

import torch

import ssl_core
from ssl_core.api import load_run
from ssl_core.config import parse_override
from ssl_core.errors import ParamError


def trained_encoder(run_dir: Path, registry=None) -> torch.nn.Module:
    """The trained backbone of a run folder (the objective's ``encoder``), on the CPU, in eval mode.

    Rebuilt by :func:`ssl_core.load_run`, the one way a trained run is rebuilt.
    """
    return load_run(run_dir, registry, device="cpu").encoder.cpu().eval()


def trained_encoder_state(run_dir: Path, registry=None) -> dict[str, torch.Tensor]:
    """The trained encoder's state dict (the encoder's own names)."""
    return {k: v.detach().cpu() for k, v in trained_encoder(run_dir, registry).state_dict().items()}


def export(run_dir: Path, fmt: str, out: Path | None = None, options: list[str] | dict | None = (),
           registry=None) -> tuple[Path, str]:
    """Write a run's backbone in the format ``fmt`` with its ``options`` (``key=value`` texts or a dict).

    Returns the file written and the format's note (what to load it into).

    Raises:
        UnknownComponentError: no plugin provides ``fmt`` (the message lists those that do).
        ParamError: an option the format does not take, or a bad value.
        ExportError: the format cannot hold this run's encoder.
    """
    registry = registry or ssl_core.registry()
    registry.get("export_format", fmt)  # an unknown format is named before the run is loaded
    if not isinstance(options, dict):
        options = dict((".".join(map(str, path)), value) for path, value in map(parse_override, options or ()))
    try:
        exporter = registry.build("export_format", fmt, options)
    except ParamError as exc:
        raise ParamError(exc.key, f"export format '{fmt}': {exc.message}"
                         + (f"; valid choices: {', '.join(exc.choices)}" if exc.choices else ""), exc.choices) from None
    encoder = trained_encoder(run_dir, registry)
    out = Path(out or Path(run_dir) / exporter.file_name)
    note = exporter.write(encoder, out)
    return out, note
