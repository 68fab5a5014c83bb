"""Activation codes ``c = sign(a)`` of a dataset (Eq. 3), packed to bits and saved.

Bit convention: bit 1 stands for ``a > 0`` (code +1), bit 0 for ``a <= 0``
(code -1; an exact zero counts as -1, as for a ReLU that is off). Bits are
packed with ``numpy.packbits(..., axis=1, bitorder="big")``: bit ``d`` of a code
is in byte ``d // 8`` at the position of value ``2 ** (7 - d % 8)`` (the first
unit is the most significant bit of the first byte); the last byte is padded
with zeros when D is not a multiple of 8.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ssl_core.atomic_write import atomic_write_bytes

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
    """Write ``codes`` to an ``.npz`` atomically (keys: codes, num_bits, indices, labels, bitorder).

    The archive is built in memory, then written as one file (see
    :func:`ssl_core.atomic_write.atomic_write_bytes`): a failed write leaves the
    previous file, if any, under ``path``.
    """
    buffer = io.BytesIO()
    np.savez_compressed(buffer, codes=codes.packed, num_bits=np.int64(codes.num_bits), indices=codes.indices,
                        labels=codes.labels, bitorder=np.array(BITORDER))
    return atomic_write_bytes(path, buffer.getvalue())


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


def run_codes(run_dir: str | Path, split: str = "test", out: str | Path | None = None, registry=None,
              batch_size: int | None = None) -> tuple[ActivationCodes, Path]:
    """Export the codes ``sign(embed(x))`` of a trained run's data (``ssl-core codes``).

    Rebuilds the run's pipeline from ``RUN_DIR/pipeline.yaml``, loads the
    trained weights ``RUN_DIR/model.pt``, and encodes ``split`` of the
    pipeline's dataset with the views' eval (deterministic) transform, in
    dataset order (``indices`` are the items' positions in that split). For
    NAC these are the hash codes of Section 4.3, ``c = sign(a)`` (Eq. 3).

    Args:
        run_dir: a run folder trained by ``ssl-core run``.
        split: the dataset split encoded (``train``, ``test``, or any split the
            dataset offers, e.g. ``all`` of ``retrieval_subset``).
        out: the ``.npz`` written (default ``RUN_DIR/codes_<split>.npz``).
        registry: the plugin registry (default: the process-wide one).
        batch_size: encoding batch size (default: the pipeline's ``eval_options.batch_size``).

    Returns:
        The codes and the path written.

    Raises:
        FileNotFoundError: the run folder has no ``pipeline.yaml`` or no trained ``model.pt``.
        ValueError: ``split`` is not a split of the pipeline's dataset (with the valid ones).
    """
    import ssl_core
    from ssl_core.params import literal_choices
    from ssl_core.eval_context import TransformedDataset
    from ssl_core.devices import eval_workers

    registry = registry or ssl_core.registry()
    trained = ssl_core.load_run(run_dir, registry)
    config = trained.config
    data = config.values["data"]
    valid = literal_choices(registry.get("dataset", data["dataset"]).factory, "split")
    if valid is not None and split not in valid:
        raise ValueError(f"split '{split}' is not a split of the dataset '{data['dataset']}'; valid choices: "
                         f"{', '.join(valid)}")
    dataset = registry.build("dataset", data["dataset"], data["params"], split=split)
    options = config.values["eval_options"]
    loader = torch.utils.data.DataLoader(TransformedDataset(dataset, trained.views.eval), shuffle=False,
                                         batch_size=batch_size or options["batch_size"],
                                         num_workers=eval_workers(options["num_workers"], trained.device),
                                         pin_memory=trained.device.type == "cuda")
    path = Path(run_dir) / f"codes_{split}.npz" if out is None else Path(out)
    return export_codes(trained.objective, loader, path, trained.device), path
