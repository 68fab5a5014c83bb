"""Random numbers for this process's rows of the global batch, so DDP draws what one process would."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def rank_rand(shape: tuple[int, ...] | torch.Size, blocks: int = 1, **kwargs) -> Tensor:
    """``torch.rand(shape)`` for a local batch laid out as ``blocks`` equal blocks of rows (e.g. two views).

    Under torch.distributed every process draws the numbers of the whole
    global batch (the same numbers: all processes are seeded alike and draw
    alike) and keeps its own rows of each block, so per-example randomness
    (negatives drawn from a bank, bit flips of NAC's channel) on W processes
    with batch B equals that of one process with batch W*B. Without it, this
    is ``torch.rand(shape)``.
    """
    shape = tuple(shape)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return torch.rand(shape, **kwargs)
    world, rank = dist.get_world_size(), dist.get_rank()
    if shape[0] % blocks:
        raise ValueError(f"{shape[0]} rows do not split into {blocks} blocks")
    rows = shape[0] // blocks
    full = torch.rand((blocks, world * rows, *shape[1:]), **kwargs)
    return full[:, rank * rows : (rank + 1) * rows].reshape(shape)
