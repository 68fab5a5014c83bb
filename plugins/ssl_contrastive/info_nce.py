"""The InfoNCE loss over a pool of negatives with a per-anchor keep mask."""

from __future__ import annotations

import torch
from torch import Tensor


def info_nce(positive: Tensor, negatives: Tensor, keep: Tensor | None, temperature: float) -> Tensor:
    """Mean over anchors of ``-(pos/t - logsumexp([pos, kept negatives]/t))``.

    This is the NCE / CNCE estimator of the conditional negative sampling
    paper (Eq. 2 with the negatives of Eq. 6 restricted to the ring), with the
    positive kept in the denominator as the reference code does.

    Args:
        positive: ``[B]`` anchor-to-positive similarities.
        negatives: ``[B, P]`` anchor-to-pool similarities.
        keep: ``[B, P]`` boolean mask of the pool entries that count as
            negatives for each anchor, or ``None`` for all of them.
        temperature: ``t``.
    """
    logits = torch.cat([positive[:, None], negatives], dim=1) / temperature
    if keep is not None:
        mask = torch.cat([keep.new_ones(keep.shape[0], 1), keep], dim=1)  # not ones_like(keep[:, :1]): empty pools
        logits = logits.masked_fill(~mask, float("-inf"))
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()
