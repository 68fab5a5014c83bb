"""The device the evaluators (and a loaded run) use: ``eval_options.device``, by default the training's."""

from __future__ import annotations

import re

DEVICE_PATTERN = re.compile(r"^(cpu|cuda(:\d+)?|mps|meta)$")
"""Device strings accepted by ``eval_options.device`` (checked without importing torch)."""


def check_device_name(name: str) -> str | None:
    """``None`` when ``name`` is a device string ``eval_options.device`` accepts, else what is wrong with it."""
    if DEVICE_PATTERN.match(name):
        return None
    return f"'{name}' is not a device; use cpu, cuda, cuda:<index> or mps (or null: the training's device)"


def device_index(devices) -> int | None:
    """The one device index ``train.devices`` names, else ``None`` (a count, several indices, ``auto``, ``-1``).

    ``[1]`` (a list of one int) and ``"1,"`` (Lightning's string of indices, the form the pipeline schema
    takes) name GPU 1; ``1`` and ``"1"`` are a count of devices (Lightning's meaning), so name no index.
    """
    if isinstance(devices, (list, tuple)):
        parts = list(devices)
    elif isinstance(devices, str) and "," in devices:
        parts = [part.strip() for part in devices.split(",") if part.strip()]
        if not all(re.fullmatch(r"\d+", part) for part in parts):
            return None
        parts = [int(part) for part in parts]
    else:
        return None
    if len(parts) == 1 and isinstance(parts[0], int) and not isinstance(parts[0], bool) and parts[0] >= 0:
        return parts[0]
    return None


def resolve_device(device: str | None = None, accelerator: str = "auto", devices=None):
    """The ``torch.device`` evaluation runs on.

    Args:
        device: ``eval_options.device``; ``None`` follows ``accelerator`` (and ``devices``).
        accelerator: ``train.accelerator``: ``gpu`` (or ``cuda``) -> ``cuda``, ``cpu`` -> ``cpu``,
            ``auto`` -> ``cuda`` when CUDA is available, else ``mps`` when available, else ``cpu``
            (what Lightning's ``auto`` picks for training).
        devices: ``train.devices``: when the accelerator gives ``cuda`` and it names exactly one
            device index (``[1]``, or ``"1,"``), that GPU: ``cuda:1``, the one the run trained on
            (:func:`device_index`); otherwise ``cuda`` (the current GPU).

    Raises:
        DeviceError: a CUDA device is asked for (or ``accelerator: gpu``) and CUDA is not available,
            or its index is out of range.
    """
    import torch

    from ssl_core.errors import DeviceError

    source = "eval_options.device"
    if device is None:
        source = f"train.accelerator: {accelerator}"
        if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
            device = "cuda"
            index = device_index(devices)
            if index is not None:
                device, source = f"cuda:{index}", f"{source}, train.devices: {devices!r}"
        elif accelerator == "auto" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{device}' asked for (eval_options.device or train.accelerator: gpu), but CUDA "
                              f"is not available here; set eval_options.device=cpu or train.accelerator=cpu")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise DeviceError(f"device '{device}' ({source}): only {torch.cuda.device_count()} CUDA device(s) here; "
                              f"set eval_options.device to one of them")
    return resolved


def describe_device(device) -> dict:
    """``{"device": "cuda:0", "name": "NVIDIA A100 ..."}`` (the CPU's name from the platform) for ``results.json``."""
    import platform

    import torch

    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return {"device": f"cuda:{index}", "name": torch.cuda.get_device_name(index)}
    return {"device": str(device), "name": platform.processor() or platform.machine()}


def eval_workers(num_workers: int | None, device) -> int:
    """``eval_options.num_workers``, or when ``null`` the default for ``device``: 0 on the CPU, up to 4 beside a GPU."""
    import os

    if num_workers is not None:
        return num_workers
    return min(4, os.cpu_count() or 1) if getattr(device, "type", str(device)).startswith("cuda") else 0


def loader_defaults(device) -> dict:
    """DataLoader options that fit the device: ``pin_memory`` on CUDA (faster host-to-device copies)."""
    return {"pin_memory": getattr(device, "type", str(device)) == "cuda"}
