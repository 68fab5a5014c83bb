"""NAC with a momentum queue (NAC-MQ, Park et al., 2021, Eq. 20)."""

from __future__ import annotations

import copy
import math
from typing import Literal

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ssl_core.negatives import NegativesHooks

from ssl_nac.nac import (ForwardViews, check_forward_views, check_two_views, coding_head, distinct_fraction,
                         encode_views, swap_halves)
from ssl_nac.nac_loss import nac_mi_bound, nac_negatives, nac_positive
from ssl_nac.noisy_channel import NoisyChannel


class NACMomentumQueue(NegativesHooks, nn.Module):
    """NAC whose negatives are M momentum keys in a FIFO queue (Eq. 20).

    A momentum copy of the encoder, the head and the inference network
    (exponential moving averages, updated at the start of each step with
    ``lightly.models.utils.update_momentum``) gives the keys
    ``v = tanh(a^)`` and the logits ``r^``. The loss, symmetrised over the two
    views, is

        ``logsumexp_m beta (z~ . v_m) - 0.5 sum_d [z~_d r^'_d + log s(r^'_d)(1 - s(r^'_d))] + lambda ||z||^2``

    with ``r^'`` the momentum inference logits of the other view and the
    similarities *multiplied* by ``beta = 0.5 log((1-p)/p)``, exactly as in
    NAC (one variant of the reference code divides; this one does not).
    The momentum keys of the batch are enqueued after the loss, as MoCo
    does and as Section 3.5 describes the queue ("momentum features from
    previous iterations"), so a batch's own keys are never among its negatives (on the very
    first step, while the queue is still empty, they stand in for it);
    ``enqueue: before_loss`` enqueues them first, as the authors' code does,
    so each anchor's own momentum key and its partner's are among its
    negatives.

    Eq. 20 scores the code with the *momentum* inference network, which takes
    no gradient, so the online inference network (whose average it is) is
    fitted by its own variational term (Eq. 14) with ``z~`` and the encoder
    feature detached (as in the reference code); that term trains ``phi``
    only. It is averaged over the 2B anchors like every other term; the
    reference code instead sums the two views' means, i.e. twice that
    (``variational_reduction: sum_of_view_means``), which doubles the
    inference network's gradient.

    With a selector (NAC-MQ + ring) each anchor's sum is restricted to the
    queue entries the selector keeps, ranked by ``z~ . v_m``.

    Args:
        out_dim: code length D (128); the queue's keys have this size.
        hidden_dim: hidden width of the head and the inference network
            (``None``: the encoder's ``feature_dim``).
        p: flip probability of the channel, in (0, 0.5).
        momentum: decay of the moving averages (0.99 on CIFAR, 0.999 on ImageNet).
        l2_weight: lambda of the ``lambda ||z||^2`` regulariser (0.1).
        scale_by_sqrt_dim: divide ``a`` and ``r`` by ``sqrt(D)``, as the
            reference code does.
        enqueue: ``"after_loss"`` (default) or ``"before_loss"`` (the
            authors' code): when the batch's momentum keys join the queue.
        variational_reduction: ``"mean"`` (default: the inference network's
            term averaged over the 2B anchors) or ``"sum_of_view_means"``
            (the authors' code: the two views' means added).
        forward_views: ``"joint"`` (default: one forward of each encoder over
            both views) or ``"per_view"`` (one per view, the authors' code;
            differs through BatchNorm statistics).
    """

    sources = ("queue",)

    def __init__(self, encoder: nn.Module, source: nn.Module | None = None, selector: nn.Module | None = None,
                 num_examples: int = 0, out_dim: int = 128, hidden_dim: int | None = None, p: float = 0.1,
                 momentum: float = 0.99, l2_weight: float = 0.1, scale_by_sqrt_dim: bool = True,
                 enqueue: Literal["after_loss", "before_loss"] = "after_loss",
                 variational_reduction: Literal["mean", "sum_of_view_means"] = "mean",
                 forward_views: ForwardViews = "joint"):
        super().__init__()
        if out_dim < 1:
            raise ValueError(f"out_dim must be >= 1, got {out_dim}")
        if hidden_dim is not None and hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if l2_weight < 0:
            raise ValueError(f"l2_weight must be >= 0, got {l2_weight}")
        if enqueue not in ("after_loss", "before_loss"):
            raise ValueError(f"enqueue must be 'after_loss' or 'before_loss', got {enqueue!r}")
        if variational_reduction not in ("mean", "sum_of_view_means"):
            raise ValueError("variational_reduction must be 'mean' or 'sum_of_view_means', "
                             f"got {variational_reduction!r}")
        if source is None:
            raise ValueError("source: NAC-MQ takes its negatives from a queue (sampler 'queue'); none was given")
        self.channel = NoisyChannel(p)
        self.p = self.channel.p
        self.out_dim = out_dim
        self.momentum = momentum
        self.l2_weight = l2_weight
        self.scale = 1.0 / math.sqrt(out_dim) if scale_by_sqrt_dim else 1.0
        self.enqueue = enqueue
        self.variational_reduction = variational_reduction
        self.forward_views = check_forward_views(forward_views)
        self.encoder = encoder
        self.source = source
        self.selector = selector
        hidden = hidden_dim or encoder.feature_dim
        self.head = coding_head(encoder.feature_dim, hidden, out_dim)
        self.inference = coding_head(encoder.feature_dim, hidden, out_dim)
        self.encoder_momentum = copy.deepcopy(encoder)
        self.head_momentum = copy.deepcopy(self.head)
        self.inference_momentum = copy.deepcopy(self.inference)
        for module in (self.encoder_momentum, self.head_momentum, self.inference_momentum):
            from lightly.models.utils import deactivate_requires_grad  # lightly imports torchvision: when built

            deactivate_requires_grad(module)

    def embed(self, x: Tensor) -> Tensor:
        """The online head's pre-activation ``a`` (scaled if set); the hash code is ``sign(a)``."""
        return self.head(self.encoder(x)) * self.scale

    @torch.no_grad()
    def update_momentum_networks(self) -> None:
        """Move the momentum encoder, head and inference network towards the online ones."""
        from lightly.models.utils import update_momentum

        update_momentum(self.encoder, self.encoder_momentum, self.momentum)
        update_momentum(self.head, self.head_momentum, self.momentum)
        update_momentum(self.inference, self.inference_momentum, self.momentum)

    @torch.no_grad()
    def momentum_outputs(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Momentum keys ``v = tanh(a^)`` and momentum inference logits ``r^``.

        Under torch.distributed the batch is shuffled across processes for
        the momentum encoder (lightly's ``batch_shuffle``), as the reference
        code and MoCo do, so that BatchNorm statistics cannot pair the views.
        """
        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        from lightly.models.utils import batch_shuffle, batch_unshuffle

        shuffled, order = batch_shuffle(x, distributed=distributed)
        h = batch_unshuffle(self.encoder_momentum(shuffled), order, distributed=distributed)
        return torch.tanh(self.head_momentum(h) * self.scale), self.inference_momentum(h) * self.scale

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict[str, float]]:
        """One training step: the loss of Eq. 20 on two views of ``B`` examples, then enqueue."""
        x1, x2 = check_two_views(views)
        self.update_momentum_networks()
        if self.forward_views == "per_view":
            (v1, r_hat1), (v2, r_hat2) = self.momentum_outputs(x1), self.momentum_outputs(x2)
            v, r_hat = torch.cat([v1, v2]), torch.cat([r_hat1, r_hat2])
        else:
            v, r_hat = self.momentum_outputs(torch.cat([x1, x2]))
        h = encode_views(self.encoder, x1, x2, self.forward_views)
        a = self.head(h) * self.scale
        z = torch.tanh(a)
        z_tilde, flips = self.channel(z)
        if self.enqueue == "before_loss":
            self.source.update(v, torch.cat([index, index]))
        keys, _ = self.source.pool()
        if keys.shape[0] == 0:
            keys = v
        keys = keys.to(z.dtype, copy=True)  # a copy: the queue is overwritten in place before backward
        keep = None
        if self.selector is not None:
            keep = self.selector.select((z_tilde @ keys.T).detach(), None)
        positive = nac_positive(z_tilde, swap_halves(r_hat))
        negatives, count = nac_negatives(z_tilde, keys, self.channel.beta, keep)
        l2 = self.l2_weight * (z**2).sum(dim=1)
        r = self.inference(h.detach()) * self.scale
        fit = nac_positive(z_tilde.detach(), swap_halves(r))
        if self.variational_reduction == "sum_of_view_means":
            fit_term = fit[: x1.shape[0]].mean() + fit[x1.shape[0]:].mean()
        else:
            fit_term = fit.mean()
        loss = (negatives - positive + l2).mean() - fit_term
        if self.enqueue == "after_loss":
            self.source.update(v, torch.cat([index, index]))
        with torch.no_grad():
            metrics = {
                "mi_bound": nac_mi_bound(positive, negatives, count, self.p, self.out_dim).item(),
                "positive": positive.mean().item(),
                "negatives": negatives.mean().item(),
                "negatives_count": count.float().mean().item(),
                "l2": l2.mean().item(),
                "inference_fit": fit.mean().item(),
                "z_abs_mean": z.abs().mean().item(),
                "flip_rate": (flips < 0).float().mean().item(),
                "distinct_codes_fraction": distinct_fraction(a),
            }
        return loss, metrics | self.negatives_metrics()
