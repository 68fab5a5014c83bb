"""Barlow Twins (Zbontar et al., 2021): make the cross-correlation of two views' embeddings the identity."""

from __future__ import annotations

import torch
from lightly.loss import BarlowTwinsLoss
from lightly.models.modules.heads import BarlowTwinsProjectionHead
from torch import Tensor, nn


class BarlowTwins(nn.Module):
    """Eq. 1 of Zbontar et al.: invariance on the diagonal, redundancy reduction off it.

    Args:
        lambda_param: weight of the off-diagonal (redundancy reduction) term.
        out_dim: projector output size.
        hidden_dim: projector hidden size.
        encoder: the backbone (context, filled by ssl-core).
    """

    sources = ()  # no negatives

    def __init__(self, lambda_param: float = 5e-3, out_dim: int = 256, hidden_dim: int = 256,
                 encoder: nn.Module | None = None):
        super().__init__()
        if lambda_param < 0:
            raise ValueError(f"lambda_param must be >= 0, got {lambda_param}")
        self.encoder = encoder
        self.head = BarlowTwinsProjectionHead(encoder.feature_dim, hidden_dim, out_dim)
        self.loss = BarlowTwinsLoss(lambda_param=lambda_param)

    def embed(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict]:
        z = self.embed(torch.cat(views[:2]))
        z_a, z_b = z.chunk(2)
        return self.loss(z_a, z_b), {}
