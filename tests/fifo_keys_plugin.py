"""A third-party negative source, as a plugin outside the library: a FIFO of in-batch keys.

It uses nothing of ssl-core but the hook marker and the written protocol
(:class:`ssl_core.negatives.NegativeSource`): its pool is the batch's own
keys followed by the keys of the last ``size`` examples (every valid entry a
negative: no ``num_negatives``, a different sampling from the memory bank's
``k`` draws), an entry being valid for an anchor unless it comes from the
anchor's own example; ``positives`` are each example's latest key.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ssl_core


class FifoKeys(nn.Module):
    """The last ``size`` keys with the example each came from, and each example's latest key."""

    def __init__(self, size: int = 8, dim: int = 16, num_examples: int = 2):
        super().__init__()
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.register_buffer("keys", torch.zeros(size, dim))
        self.register_buffer("owners", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("latest", F.normalize(torch.randn(num_examples, dim, generator=generator), dim=1))

    def pool(self, keys: Tensor | None, index: Tensor | None) -> tuple[Tensor, Tensor | None]:
        filled = self.owners >= 0
        stored, owners = self.keys[filled], self.owners[filled]
        if keys is not None:
            stored, owners = torch.cat([keys, stored]), torch.cat([index, owners])
        valid = None if index is None else owners[None, :] != index[:, None]
        return stored, valid

    def positives(self, index: Tensor) -> Tensor:
        return self.latest[index]

    @torch.no_grad()
    def update(self, keys: Tensor, index: Tensor) -> None:
        size = self.keys.shape[0]
        for key, owner in zip(keys[-size:], index[-size:]):
            self.keys[self.pointer] = key
            self.owners[self.pointer] = owner
            self.pointer.fill_((int(self.pointer) + 1) % size)
        self.latest[index] = keys.to(self.latest.dtype)


@ssl_core.hookimpl
def ssl_core_samplers():
    return {"fifo_keys": FifoKeys}
