"""In-batch negatives: every other example of the batch (SimCLR)."""

from __future__ import annotations

from torch import Tensor, nn


class InBatchNegatives(nn.Module):
    """The batch's own keys are the pool; views of the anchor's example are not negatives.

    For two views of B examples this leaves the 2B - 2 negatives of SimCLR
    (the NAC paper's Eq. 21, the indicator ``k != i`` plus the positive).
    """

    def __init__(self):
        super().__init__()

    def pool(self, keys: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``keys`` as the pool and the ``[N, N]`` mask of valid negatives (other examples)."""
        return keys, index[:, None] != index[None, :]

    def update(self, keys: Tensor, index: Tensor) -> None:
        """Nothing to store."""
