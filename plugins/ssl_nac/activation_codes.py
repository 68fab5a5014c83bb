"""Activation codes ``c = sign(a)`` of a dataset (Eq. 3), packed to bits and saved.

Bit convention: bit 1 stands for ``a > 0`` (code +1), bit 0 for ``a <= 0``
(code -1; an exact zero counts as -1, as for a ReLU that is off). Bits are
packed with ``numpy.packbits(..., axis=1, bitorder="big")``: bit ``d`` of a code
is in byte ``d // 8`` at the position of value ``2 ** (7 - d % 8)`` (the first
unit is the most significant bit of the first byte); the last byte is padded
with zeros when D is not a multiple of 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

BITORDER = "big"


def code_bits(a: Tensor | np.ndarray) -> np.ndarray:
    """The code of each row of ``a`` as booleans (``True`` = +1 = ``a > 0``)."""
    a = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
    return a > 0


def pack_codes(bits: np.ndarray) -> np.ndarray:
    """Pack ``[N, D]`` booleans to ``[N, ceil(D / 8)]`` bytes (big bit order)."""
    return np.packbits(np.asarray(bits, dtype=bool), axis=1, bitorder=BITORDER)


def unpack_codes(packed: np.ndarray, num_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: ``[N, num_bits]`` booleans."""
    return np.unpackbits(packed, axis=1, count=num_bits, bitorder=BITORDER).astype(bool)


@dataclass
class ActivationCodes:
    """Codes of a dataset: packed bits, code length, dataset indices and labels."""

    packed: np.ndarray
    num_bits: int
    indices: np.ndarray
    labels: np.ndarray

    def bits(self) -> np.ndarray:
        """``[N, D]`` booleans (``True`` = +1)."""
        return unpack_codes(self.packed, self.num_bits)

    def signs(self) -> np.ndarray:
        """``[N, D]`` codes in {-1, +1} (int8)."""
        return np.where(self.bits(), 1, -1).astype(np.int8)


@torch.no_grad()
def compute_codes(objective: nn.Module, loader, device: str | torch.device = "cpu") -> ActivationCodes:
    """Codes ``sign(objective.embed(x))`` of every item of ``loader``, in eval mode.

    Batches are ``(x, label)`` or ``(x, label, index)``; without an index the
    position in the loader's order is used. Labels may be integers or
    multi-hot vectors.
    """
    was_training = objective.training
    objective.eval()
    bits, labels, indices, seen = [], [], [], 0
    try:
        for batch in loader:
            x, y = batch[0], batch[1]
            a = objective.embed(x.to(device))
            bits.append(code_bits(a))
            labels.append(np.asarray(torch.as_tensor(y).cpu()))
            idx = batch[2] if len(batch) > 2 else torch.arange(seen, seen + a.shape[0])
            indices.append(np.asarray(torch.as_tensor(idx).cpu(), dtype=np.int64))
            seen += a.shape[0]
    finally:
        objective.train(was_training)
    if not bits:
        raise ValueError("the loader yielded no batch: nothing to encode")
    all_bits = np.concatenate(bits)
    return ActivationCodes(pack_codes(all_bits), all_bits.shape[1], np.concatenate(indices), np.concatenate(labels))


def save_codes(codes: ActivationCodes, path: str | Path) -> Path:
    """Write ``codes`` to an ``.npz`` (keys: codes, num_bits, indices, labels, bitorder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(f, codes=codes.packed, num_bits=np.int64(codes.num_bits), indices=codes.indices,
                            labels=codes.labels, bitorder=np.array(BITORDER))
    return path


def export_codes(objective: nn.Module, loader, path: str | Path, device: str | torch.device = "cpu") -> ActivationCodes:
    """Compute the codes of ``loader`` through ``objective.embed`` and save them to ``path`` (.npz)."""
    codes = compute_codes(objective, loader, device)
    save_codes(codes, path)
    return codes


def load_codes(path: str | Path) -> ActivationCodes:
    """Read an ``.npz`` written by :func:`export_codes`."""
    with np.load(Path(path), allow_pickle=False) as data:
        order = str(data["bitorder"]) if "bitorder" in data else BITORDER
        if order != BITORDER:
            raise ValueError(f"{path}: codes packed with bitorder '{order}', expected '{BITORDER}'")
        return ActivationCodes(data["codes"], int(data["num_bits"]), data["indices"], data["labels"])
