"""SimCLR (Chen et al., 2020): symmetric NT-Xent over in-batch negatives, optionally in a ring."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.negatives import NegativesHooks

from ssl_contrastive.info_nce import info_nce


class SimCLR(NegativesHooks, nn.Module):
    """NT-Xent (the NAC paper's Eq. 21) for every one of the 2B views, both directions.

    Each view is an anchor whose positive is the other view of its example and
    whose negatives are the 2B - 2 views of the other examples. With a selector
    (SimCLRing, the ring paper's section on batch-based negatives) each
    anchor's negatives are narrowed to its band by an element-wise mask.

    Args:
        temperature: tau of Eq. 21.
        out_dim: size of the projection head's output.
        hidden_dim: hidden size of the two-layer projection head.
        encoder: the backbone (context).
        source: the negative source, ``in_batch`` (context).
        selector: optional negative selector (context).
        forward_views: ``"joint"`` (default: one forward over both views'
            2B examples) or ``"per_view"`` (one per view, as the NAC authors'
            SimCLR); they differ only through BatchNorm statistics (the
            projection head and the encoder's).
    """

    sources = ("in_batch",)

    def __init__(self, temperature: float = 0.5, out_dim: int = 128, hidden_dim: int = 512,
                 encoder: nn.Module | None = None, source: nn.Module | None = None, selector: nn.Module | None = None,
                 forward_views: Literal["joint", "per_view"] = "joint"):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if forward_views not in ("joint", "per_view"):
            raise ValueError(f"forward_views must be 'joint' or 'per_view', got {forward_views!r}")
        self.forward_views = forward_views
        self.temperature = temperature
        self.encoder = encoder
        from lightly.models.modules.heads import SimCLRProjectionHead  # lightly imports torchvision: when built

        self.head = SimCLRProjectionHead(encoder.feature_dim, hidden_dim, out_dim)
        self.source = source
        self.selector = selector

    def embed(self, x: Tensor) -> Tensor:
        """The projection head's output (before l2 normalisation)."""
        return self.head(self.encoder(x))

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict]:
        if len(views) != 2:
            raise ValueError(f"SimCLR needs exactly 2 views per example, got {len(views)}; set views.params.n_views: 2")
        batch = views[0].shape[0]
        if self.forward_views == "per_view":
            z = F.normalize(torch.cat([self.embed(v) for v in views]), dim=1)
        else:
            z = F.normalize(self.embed(torch.cat(views)), dim=1)
        pool, valid = self.source.pool(z, torch.cat([index, index]))
        sim = z @ pool.T
        positive = (z * z.roll(batch, dims=0)).sum(dim=1)
        keep = valid if self.selector is None else self.selector.select(sim.detach(), valid)
        loss = info_nce(positive, sim, keep, self.temperature)
        metrics = {"negatives_per_anchor": keep.sum(1).float().mean().item(),
                   "positive_similarity": positive.mean().item()}
        return loss, metrics | self.negatives_metrics()
