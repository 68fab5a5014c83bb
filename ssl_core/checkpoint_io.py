"""Checkpoints written atomically, kept two deep, and loaded without executing code.

``checkpoints/last.ckpt`` is the newest checkpoint and ``checkpoints/previous.ckpt``
the one before it (a hard link to the replaced file, so keeping it copies
nothing). A ``last.ckpt`` damaged from outside (truncated, overwritten) does
not end the run: :func:`resume_checkpoint` takes the newest one that loads.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from ssl_core.atomic_write import atomic_torch_save, atomic_write, atomic_write_text  # noqa: F401  (imported from here too)
from ssl_core.errors import SslCoreError

LAST_CHECKPOINT = "last.ckpt"
PREVIOUS_CHECKPOINT = "previous.ckpt"


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
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # torch's reader raises OSError(EINVAL) for a truncated file: that one is a damaged checkpoint
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


def checkpoint_files(directory: str | Path) -> list[Path]:
    """``last.ckpt`` and ``previous.ckpt`` of a checkpoint folder, newest first, those that exist."""
    directory = Path(directory)
    return [p for p in (directory / LAST_CHECKPOINT, directory / PREVIOUS_CHECKPOINT) if p.exists()]


def resume_checkpoint(directory: str | Path) -> tuple[Path, int, str]:
    """The newest checkpoint of ``directory`` that loads: ``(path, global step, what was passed over)``.

    A truncated or corrupt ``last.ckpt`` is passed over for ``previous.ckpt``;
    a file refused because it holds objects other than tensors (which could
    run code) is never passed over: that error is raised.

    Raises:
        CheckpointError: no checkpoint loads (the message names each file and why).
    """
    errors = []
    for path in checkpoint_files(directory):
        try:
            state = safe_torch_load(path)
        except CheckpointError as exc:
            if str(exc).startswith("refusing"):
                raise
            errors.append(str(exc))
            continue
        if not isinstance(state, dict) or "global_step" not in state:
            errors.append(f"cannot load {path}: not a training checkpoint (no global_step)")
            continue
        return path, int(state["global_step"]), "; ".join(errors)
    if not errors:
        raise CheckpointError(f"no checkpoint in {directory}")
    raise CheckpointError("; ".join(errors) + ("" if len(errors) > 1 else "; no older checkpoint to resume from"))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO with :func:`atomic_torch_save` and :func:`safe_torch_load`.

    Writing a new ``last.ckpt`` of another step keeps the one it replaces as
    ``previous.ckpt``, but only when that one is known good (written by this
    process, or the one this process resumed from): resuming from
    ``previous.ckpt`` because ``last.ckpt`` was damaged never turns the damaged
    file into the fallback. The old ``previous.ckpt`` is removed before the new
    file is written, so at most two checkpoints and one temporary file exist.
    """

    def __init__(self):
        self.good_last_step: int | None = None  # the step of last.ckpt when it is known to load

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        step = checkpoint.get("global_step")
        rotate = (path.name == LAST_CHECKPOINT and path.exists() and self.good_last_step is not None
                  and self.good_last_step != step)
        previous = path.with_name(PREVIOUS_CHECKPOINT)
        if rotate:
            previous.unlink(missing_ok=True)
        atomic_torch_save(checkpoint, path, before_replace=(lambda: keep_as(path, previous)) if rotate else None)
        if path.name == LAST_CHECKPOINT:
            self.good_last_step = step

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        state = safe_torch_load(path, map_location or "cpu")
        if Path(path).name == LAST_CHECKPOINT:
            self.good_last_step = state.get("global_step")
        return state


def keep_as(path: Path, kept: Path) -> None:
    """``kept`` becomes a second name of ``path``'s current content: a hard link, or a copy where links fail."""
    tmp = kept.with_name(f".{kept.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
    except OSError:  # a file system without hard links
        with open(path, "rb") as source:
            atomic_write(kept, lambda f: shutil.copyfileobj(source, f), needed=path.stat().st_size)
        return
    os.replace(tmp, kept)
