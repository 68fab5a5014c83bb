"""Checkpoints written atomically and loaded without executing code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from ssl_core.errors import SslCoreError


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """Write ``obj`` to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    A process killed at any point leaves either the old file or the new one,
    never a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (see :func:`atomic_torch_save`)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


class CheckpointError(SslCoreError):
    """A checkpoint that cannot be loaded: truncated, not a checkpoint, or holding arbitrary objects."""


def safe_torch_load(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers only, no code.

    Raises:
        CheckpointError: naming the file, when it holds other objects (which
            unpickling could turn into code) or is truncated or corrupt.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, KeyError ... on bad files
        boilerplate = ("weights only load failed", "please file an issue", "check the documentation")
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reasons = [line for line in lines if not line.lower().startswith(boilerplate)] or [type(exc).__name__]
        refused = next((line for line in reasons if "GLOBAL" in line), None)
        if isinstance(exc, pickle.UnpicklingError) and refused:
            raise CheckpointError(f"refusing to load {path}: it holds objects other than tensors and plain containers, "
                                  f"and unpickling them could run code; only checkpoints written by ssl-core load "
                                  f"(torch.load with weights_only=True). {refused}") from None
        raise CheckpointError(f"cannot load {path}: truncated or not a checkpoint ({type(exc).__name__}: "
                              f"{reasons[0][:200]})") from exc


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO with :func:`atomic_torch_save` and :func:`safe_torch_load`."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return safe_torch_load(path, map_location or "cpu")
