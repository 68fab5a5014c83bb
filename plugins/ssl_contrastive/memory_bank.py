"""An indexed memory bank over the whole training set (Wu et al., 2018; IR, CMC)."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_contrastive.all_gather import all_gather_no_grad


class MemoryBank(nn.Module):
    """One l2-normalised entry per training example; entry i tracks example i.

    The update is ``v_i <- normalize(momentum * v_i + (1 - momentum) * f_i)``
    (momentum 0 replaces the entry, as the ring code does; 0.5 in CMC). The
    bank is a persistent buffer, saved in checkpoints.

    Args:
        k: negatives drawn per anchor per step (4096).
        momentum: update momentum in [0, 1).
        dtype: ``float16`` halves memory for ImageNet-sized banks.
        dim: entry size (context: the objective's ``out_dim``).
        num_examples: number of entries (context: the training-set size).
    """

    def __init__(
        self,
        k: int = 4096,
        momentum: float = 0.0,
        dtype: Literal["float32", "float16"] = "float32",
        dim: int = 128,
        num_examples: int = 2,
    ):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if num_examples < 2:
            raise ValueError(f"num_examples must be >= 2 (one entry per training example), got {num_examples}")
        self.k = k
        self.momentum = momentum
        std = 1.0 / math.sqrt(dim / 3)
        init = torch.rand(num_examples, dim).mul_(2 * std).add_(-std)
        self.register_buffer("bank", F.normalize(init, dim=1).to(getattr(torch, dtype)))

    def __len__(self) -> int:
        return self.bank.shape[0]

    @property
    def num_negatives(self) -> int:
        """``k``: the negatives an objective that samples (IR, CMC) draws per anchor (the source protocol's name)."""
        return self.k

    @property
    def dim(self) -> int:
        return self.bank.shape[1]

    def pool(self, keys: Tensor | None = None, index: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """The whole bank ``[N, D]`` (float32), and, given ``index``, the mask excluding each anchor's own entry."""
        valid = None
        if index is not None:
            valid = torch.arange(len(self), device=index.device)[None, :] != index[:, None]
        return self.bank.float(), valid

    def positives(self, index: Tensor) -> Tensor:
        """The stored entries of the anchors' own examples ``[B, D]``."""
        return self.bank[index].float()

    def draw(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """``[batch, k]`` entry indices drawn uniformly with replacement."""
        return torch.randint(len(self), (batch, self.k), device=self.bank.device, generator=generator)

    @torch.no_grad()
    def update(self, keys: Tensor, index: Tensor) -> None:
        """Move entries ``index`` towards ``keys`` (from every process under DDP)."""
        keys = all_gather_no_grad(keys).float()
        index = all_gather_no_grad(index)
        mixed = self.momentum * self.bank[index].float() + (1.0 - self.momentum) * keys
        self.bank[index] = F.normalize(mixed, dim=1).to(self.bank.dtype)
