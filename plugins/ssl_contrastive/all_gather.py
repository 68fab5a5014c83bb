"""Gather tensors from every process (no-op without torch.distributed)."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def all_gather_no_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from all processes along dim 0, in rank order, without gradient.

    Memory banks and queues call this before an update so that every process
    stores the keys of the whole global batch (MoCo's ``concat_all_gather``).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor.detach()
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.detach().contiguous())
    return torch.cat(parts, dim=0)
