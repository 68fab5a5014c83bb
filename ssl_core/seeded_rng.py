"""Random state: per-item seeding for views, and capture/restore for checkpoints."""

from __future__ import annotations

import contextlib
import os
import random
import zlib

import numpy as np
import torch


def item_seed(*parts: int) -> int:
    """A 31-bit seed derived from ``parts`` (run seed, epoch, example index)."""
    return zlib.crc32(np.asarray(parts, dtype=np.int64).tobytes()) & 0x7FFFFFFF


def seed_everything(seed: int) -> int:
    """Seed ``random``, numpy and torch with ``seed``, as ``pytorch_lightning.seed_everything(seed, workers=True)`` does.

    The same state and the same environment (``PL_GLOBAL_SEED``, and
    ``PL_SEED_WORKERS=1`` for Lightning's DataLoader worker seeding), without
    importing Lightning: building a pipeline, and so ``ssl-core validate``,
    stays fast. A test checks it against Lightning's.
    """
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PL_SEED_WORKERS"] = "1"
    return seed


@contextlib.contextmanager
def seeded(seed: int):
    """Run the block with torch, numpy and ``random`` seeded by ``seed``, then restore their states.

    The views of example i in epoch e are thus a function of (seed, e, i)
    alone: the same whatever the worker count, the batch order, or a resume.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        # the CPU generator only: views are drawn on the CPU, and torch.manual_seed would also queue
        # the lazy seeding of every accelerator (a traceback capture per call, ~1 ms per item)
        torch.default_generator.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def capture() -> dict:
    """The global RNG states as tensors and plain values (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    """Undo :func:`capture`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
