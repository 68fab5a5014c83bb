"""In-batch negatives: every other example of the (global) batch (SimCLR, NAC)."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ssl_contrastive.all_gather import all_gather_no_grad


class InBatchNegatives(nn.Module):
    """The batch's own keys are the pool; views of the anchor's example are not negatives.

    For two views of B examples this leaves the 2B - 2 negatives of SimCLR
    (the NAC paper's Eq. 21, the indicator ``k != i`` plus the positive).
    Under DDP the pool is the keys of every process, gathered with gradient
    (lightly's ``GatherLayer``), so a step on W processes with batch B each
    is the step of one process with batch W*B.
    """

    def __init__(self):
        super().__init__()

    def pool(self, keys: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
        """The global batch's keys ``[P, D]`` and the ``[N, P]`` mask of valid negatives (other examples)."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            from lightly.utils.dist import gather  # lightly imports torchvision: at first use

            keys_all, index_all = torch.cat(gather(keys)), all_gather_no_grad(index)
        else:
            keys_all, index_all = keys, index
        return keys_all, index[:, None] != index_all[None, :]

    def update(self, keys: Tensor, index: Tensor) -> None:
        """Nothing to store."""
