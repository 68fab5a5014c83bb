"""Per-dataset normalisation: channel mean and std computed from a training split, cached on disk.

The CNCE paper (Sec. 5, "Transferring Features") normalises every transfer
dataset with the mean and variance of its own training split, "which we found
important for generalization to new visual domains".
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ssl_core.eval_context import TransformedDataset

CACHE_ENV = "SSL_CORE_CACHE_DIR"


def cache_dir() -> Path:
    """Where computed statistics are kept: ``$SSL_CORE_CACHE_DIR`` or ``~/.cache/ssl_core``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ssl_core")


def mean_std(dataset: Dataset, transform: Callable, max_items: int | None = 5000, seed: int = 0,
             num_workers: int = 0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of ``transform(x)`` over the pixels of (a sample of) ``dataset``.

    Args:
        dataset: items ``(x, label)``.
        transform: maps ``x`` to a tensor ``[C, H, W]`` (e.g. resize, crop, to [0, 1], no normalisation).
        max_items: use a random sample of at most this many items (seeded), or all of them if null.
        seed: seed of the sample.
        num_workers: DataLoader workers decoding the images.

    Returns:
        ``(mean, std)``, one value per channel; std is the population std over all pixels.
    """
    if len(dataset) == 0:
        raise ValueError("mean_std needs a non-empty dataset")
    indices = np.arange(len(dataset))
    if max_items is not None and len(dataset) > max_items:
        indices = np.sort(np.random.default_rng(seed).choice(len(dataset), max_items, replace=False))
    data = TransformedDataset(Subset(dataset, indices.tolist()), transform)
    total = total_sq = None
    count = 0
    for x, _ in DataLoader(data, batch_size=None, num_workers=num_workers):
        x = x.to(torch.float64).flatten(1)
        total = x.sum(1) if total is None else total + x.sum(1)
        total_sq = (x * x).sum(1) if total_sq is None else total_sq + (x * x).sum(1)
        count += x.shape[1]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp(min=0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def cached_mean_std(key: dict, compute: Callable[[], tuple[tuple[float, ...], tuple[float, ...]]]
                    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``compute()``'s statistics, stored in ``cache_dir()/normalization.json`` under ``key`` (computed once).

    ``key`` must say everything the statistics depend on (dataset name and
    params, with its root; the transform's size and colour space; the sample).
    Delete the file to recompute.
    """
    path = cache_dir() / "normalization.json"
    name = json.dumps(key, sort_keys=True)
    stored = json.loads(path.read_text()) if path.is_file() else {}
    if name in stored:
        return tuple(stored[name]["mean"]), tuple(stored[name]["std"])
    mean, std = compute()
    stored = json.loads(path.read_text()) if path.is_file() else {}  # another process may have written meanwhile
    stored[name] = {"mean": list(mean), "std": list(std)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(stored, f, indent=1, sort_keys=True)
    os.replace(f.name, path)
    return mean, std
