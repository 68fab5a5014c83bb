"""Momentum contrast, MoCo v2 (He et al., 2020; Chen et al., 2020), and its ring variant MoCoRing."""

from __future__ import annotations

import copy

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.negatives import NegativeSource, NegativesHooks, check_source

from ssl_contrastive.info_nce import info_nce
from ssl_contrastive.queue import KeyQueue


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class MoCo(NegativesHooks, nn.Module):
    """MoCo v2 with a FIFO key queue; MoCoRing with a ring selector (CNCE paper, Alg. 1).

    Query ``q = normalize(head(encoder(views[0])))`` with lightly's
    ``MoCoProjectionHead`` (two-layer MLP, MoCo v2); key
    ``k = normalize(head_k(encoder_k(views[1])))`` from momentum copies of the
    encoder and head, updated first thing in every step by
    ``theta_k <- m * theta_k + (1 - m) * theta_q`` (lightly's
    ``update_momentum``; parameters only, as MoCo) and run on a shuffled batch
    so that BatchNorm cannot leak the positive through batch statistics
    (lightly's ``batch_shuffle``, across processes under torch.distributed).
    Positive ``q . k``; negatives ``q . queue``; loss :func:`info_nce`,
    ``-(pos/t - logsumexp([pos, negatives]/t))``. With a selector each
    query's negatives are its ring of the whole queue, used whole, no
    sampling (MoCoRing, Alg. 1: ``ring_dps = all_dps[ix_l:ix_u]``). The keys
    are enqueued after the loss (Alg. 1: ``enqueue(queue, emb2)``).

    With ``symmetric`` both views take both roles and the two losses are
    averaged; both key sets are enqueued (views[1]'s first).

    Args:
        out_dim: key size (the queue's ``dim``).
        temperature: ``t``; 0.07 as the ring paper and its reference code
            (MoCo v2 itself uses 0.2).
        momentum: key-encoder momentum ``m`` (0.999).
        hidden_dim: hidden size of the MLP head; ``None`` is the encoder's
            ``feature_dim`` (2048 for ResNet-50, as MoCo v2).
        symmetric: symmetrised loss (off: MoCo v2 and the ring paper).
        shuffle_bn: shuffle the key batch for BatchNorm (on).
        encoder: the backbone (context), with ``feature_dim``.
        source: the key queue (context); ``None`` builds ``KeyQueue(dim=out_dim)``.
        selector: optional negative selector, e.g. the ring (context).
        num_examples: training-set size (context, unused).
    """

    sources = ("queue",)

    def __init__(
        self,
        out_dim: int = 128,
        temperature: float = 0.07,
        momentum: float = 0.999,
        hidden_dim: int | None = None,
        symmetric: bool = False,
        shuffle_bn: bool = True,
        encoder: nn.Module | None = None,
        source: NegativeSource | None = None,
        selector: nn.Module | None = None,
        num_examples: int = 0,
    ):
        super().__init__()
        if out_dim < 1:
            raise ValueError(f"out_dim must be >= 1, got {out_dim}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
        if hidden_dim is not None and hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim}")
        if encoder is None:
            raise ValueError("encoder is required (context parameter)")
        if source is None:
            source = KeyQueue(dim=out_dim)
        check_source(source, (), "moco")
        if getattr(source, "dim", out_dim) != out_dim:
            raise ValueError(f"out_dim ({out_dim}) must equal the source's dim ({source.dim})")
        self.temperature = temperature
        self.momentum = momentum
        self.symmetric = symmetric
        self.shuffle_bn = shuffle_bn
        self.encoder = encoder
        from lightly.models.modules.heads import MoCoProjectionHead  # lightly imports torchvision: when built
        import lightly.models.utils  # noqa: F401 - batch_shuffle, update_momentum: loaded now, before any DDP set-up

        self.head = MoCoProjectionHead(encoder.feature_dim, hidden_dim or encoder.feature_dim, out_dim)
        self.encoder_momentum = copy.deepcopy(encoder)
        self.head_momentum = copy.deepcopy(self.head)
        for p in (*self.encoder_momentum.parameters(), *self.head_momentum.parameters()):
            p.requires_grad_(False)
        self.source = source
        self.selector = selector

    def embed(self, x: Tensor) -> Tensor:
        """The query projection before l2 normalisation."""
        return self.head(self.encoder(x))

    @torch.no_grad()
    def keys(self, x: Tensor) -> Tensor:
        """l2-normalised keys of the momentum encoder, computed on a shuffled batch (shuffle BN)."""
        if not self.shuffle_bn:
            return F.normalize(self.head_momentum(self.encoder_momentum(x)), dim=1)
        distributed = _distributed()
        from lightly.models.utils import batch_shuffle, batch_unshuffle

        shuffled, order = batch_shuffle(x, distributed=distributed)
        k = self.head_momentum(self.encoder_momentum(shuffled))
        return F.normalize(batch_unshuffle(k, order, distributed=distributed), dim=1)

    def contrast(self, q: Tensor, k: Tensor, pool: Tensor, valid: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
        """Loss of queries ``q`` with positives ``k`` and the valid negatives of ``pool`` (in a ring if selected)."""
        positive = (q * k).sum(dim=1)
        negatives = q @ pool.T
        keep = valid if self.selector is None else self.selector.select(negatives.detach(), valid)
        return info_nce(positive, negatives, keep, self.temperature), positive, keep

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict[str, float]]:
        if len(views) < 2:
            raise ValueError(f"MoCo needs 2 views per example, got {len(views)}; set views.params.n_views: 2")
        from lightly.models.utils import update_momentum

        update_momentum(self.encoder, self.encoder_momentum, self.momentum)
        update_momentum(self.head, self.head_momentum, self.momentum)
        # A copy: the queue is updated in place below, before backward needs the pool.
        pool, valid = self.source.pool(None, index)
        pool = pool.clone()
        q = F.normalize(self.embed(views[0]), dim=1)
        k = self.keys(views[1])
        loss, positive, keep = self.contrast(q, k, pool, valid)
        new_keys = [k]
        if self.symmetric:
            q2 = F.normalize(self.embed(views[1]), dim=1)
            k2 = self.keys(views[0])
            loss2, positive2, keep2 = self.contrast(q2, k2, pool, valid)
            loss = 0.5 * (loss + loss2)
            positive = torch.cat([positive, positive2])
            keep = None if keep is None else torch.cat([keep, keep2])
            new_keys.append(k2)
        for keys in new_keys:
            self.source.update(keys, index)
        metrics = {"positive_similarity": positive.mean().item(), "queue_filled": float(pool.shape[0])}
        if self.selector is not None:
            metrics["ring_kept_per_anchor"] = keep.sum(1).float().mean().item()
        return loss, metrics | self.negatives_metrics()
