"""A FIFO queue of keys (MoCo), with its pointer saved in checkpoints."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.errors import ConfigWarning
from ssl_contrastive.all_gather import all_gather_no_grad


class KeyQueue(nn.Module):
    """First-in first-out queue of ``size`` keys of ``dim`` (He et al., 2020, Alg. 1).

    Unlike lightly 1.6's ``MemoryBankModule`` its contents and pointer are
    persistent buffers, so a resumed run continues with the same negatives.
    The pool holds only the filled part until the queue has wrapped once.

    Args:
        size: number of keys M (65,536 in the Ring configs).
        dim: key size (context: the objective's ``out_dim``).
    """

    def __init__(self, size: int = 65536, dim: int = 128, num_examples: int = 0):
        super().__init__()
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        if 0 < num_examples < size:
            warnings.warn(ConfigWarning("size", f"the queue ({size} keys) is larger than the dataset ({num_examples} "
                                                f"examples): once full it holds every example about "
                                                f"{size / num_examples:.1f} times, stale copies of each positive among "
                                                f"its negatives; set it <= {num_examples}"))
        self.register_buffer("keys", torch.zeros(size, dim))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.keys.shape[0]

    @property
    def dim(self) -> int:
        return self.keys.shape[1]

    def pool(self, keys: Tensor | None = None, index: Tensor | None = None) -> tuple[Tensor, None]:
        """The stored keys (oldest first is not guaranteed), detached; every entry is a valid negative."""
        return self.keys[: int(self.filled)].detach(), None

    @torch.no_grad()
    def update(self, keys: Tensor, index: Tensor | None = None) -> None:
        """Enqueue the keys of the whole global batch, overwriting the oldest ones (wrap-around)."""
        keys = all_gather_no_grad(keys).to(self.keys.dtype)
        n = keys.shape[0]
        if n > self.size:
            keys, n = keys[-self.size :], self.size
        start = int(self.pointer)
        positions = (torch.arange(n, device=keys.device) + start) % self.size
        self.keys[positions] = keys
        self.pointer.fill_((start + n) % self.size)
        self.filled.fill_(min(self.size, int(self.filled) + n))
