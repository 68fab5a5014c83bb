"""NAC: neural activation coding with in-batch negatives (Park et al., 2021, Eq. 19)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from ssl_core.negatives import NegativesHooks

from ssl_nac.nac_loss import nac_mi_bound, nac_negatives, nac_positive
from ssl_nac.noisy_channel import NoisyChannel


def coding_head(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
    """Linear(in, hidden), ReLU, Linear(hidden, out): the NAC projection head and inference network (Section 3.5)."""
    from lightly.models.modules import SimCLRProjectionHead  # lightly imports torchvision: when built

    return SimCLRProjectionHead(in_dim, hidden_dim, out_dim, batch_norm=False)


def check_two_views(views: list[Tensor]) -> tuple[Tensor, Tensor]:
    if len(views) != 2:
        raise ValueError(f"NAC needs exactly 2 views per example (two pathways, Fig. 3), got {len(views)}")
    return views[0], views[1]


ForwardViews = Literal["joint", "per_view"]


def check_forward_views(forward_views: str) -> str:
    if forward_views not in ("joint", "per_view"):
        raise ValueError(f"forward_views must be 'joint' or 'per_view', got {forward_views!r}")
    return forward_views


def encode_views(encoder: nn.Module, x1: Tensor, x2: Tensor, forward_views: str = "joint") -> Tensor:
    """``[h1; h2]``: one encoder call on ``[x1; x2]`` (``joint``), or one call per view (``per_view``).

    The two differ only through batch statistics (BatchNorm): ``joint``
    normalises over both views' 2B examples, ``per_view`` over each view's
    B, as the authors' code does by calling the network once per view.
    """
    if forward_views == "per_view":
        return torch.cat([encoder(x1), encoder(x2)])
    return encoder(torch.cat([x1, x2]))


def swap_halves(x: Tensor) -> Tensor:
    """``[x1; x2] -> [x2; x1]``: pairs each anchor with the other view of its example."""
    b = x.shape[0] // 2
    return torch.cat([x[b:], x[:b]])


class NAC(NegativesHooks, nn.Module):
    """Neural activation coding with the batch's 2B codes as negatives (Eq. 19 / 23).

    The encoder feature ``h`` feeds a projection head whose pre-activation
    ``a`` gives the activation code ``c = sign(a)`` (Eq. 3) and the relaxed code
    ``z = tanh(a)`` (Section 3.4), and an inference network of the same shape
    giving the logits ``r`` of ``Q_phi`` (Eq. 13). Each step flips the bits of
    ``z`` through the binary symmetric channel (``z~ = m * z``, ``P(m=-1) = p``)
    and minimises, symmetrised over the two views,

        ``logsumexp_k beta (z~ . z_k) - 0.5 sum_d [z~_d r'_d + log s(r'_d)(1 - s(r'_d))]``

    with ``r'`` the inference logits of the *other* view (Fig. 3) and
    ``beta = 0.5 log((1-p)/p)``. The sum runs over all 2B relaxed codes of the
    batch, the anchor's own and its partner's included (Eq. 19 and the
    reference code); ``mask_self_partner`` drops those two.

    With a selector (NAC + ring), each anchor's sum is restricted to the
    entries the selector keeps among the other examples, ranked by
    ``z~ . z_k``; the self and partner terms, which play the role of the
    positive kept in InfoNCE's denominator, stay unless
    ``mask_self_partner`` is set.

    The expectation over the flips is estimated with one sample per step.
    A closed form of it is not offered: it exists for the positive term
    (``E[z~] = (1 - 2p) z``) but not for the log-sum-exp, where only a Jensen
    bound is available.

    Args:
        out_dim: code length D (128 in the paper).
        hidden_dim: hidden width of the head and the inference network
            (``None``: the encoder's ``feature_dim``, as in the paper).
        p: flip probability of the channel, in (0, 0.5): 0.1 for linear
            evaluation, 0.4 for hashing (Fig. 4).
        scale_by_sqrt_dim: divide ``a`` and ``r`` by ``sqrt(D)`` before use, as
            the reference code does (the paper does not mention it).
        mask_self_partner: leave the anchor's own code and its partner's out
            of the negatives' sum (not in Eq. 19).
        forward_views: ``"joint"`` (default: one encoder forward over both
            views) or ``"per_view"`` (one per view, the authors' code); they
            differ only through BatchNorm statistics (:func:`encode_views`).
    """

    sources = ("in_batch",)

    def __init__(self, encoder: nn.Module, source: nn.Module | None = None, selector: nn.Module | None = None,
                 num_examples: int = 0, out_dim: int = 128, hidden_dim: int | None = None, p: float = 0.1,
                 scale_by_sqrt_dim: bool = True, mask_self_partner: bool = False,
                 forward_views: ForwardViews = "joint"):
        super().__init__()
        if out_dim < 1:
            raise ValueError(f"out_dim must be >= 1, got {out_dim}")
        if hidden_dim is not None and hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim}")
        self.channel = NoisyChannel(p)  # validates p
        self.p = self.channel.p
        self.out_dim = out_dim
        self.scale = 1.0 / math.sqrt(out_dim) if scale_by_sqrt_dim else 1.0
        self.mask_self_partner = mask_self_partner
        self.forward_views = check_forward_views(forward_views)
        self.encoder = encoder
        self.source = source
        self.selector = selector
        hidden = hidden_dim or encoder.feature_dim
        self.head = coding_head(encoder.feature_dim, hidden, out_dim)
        self.inference = coding_head(encoder.feature_dim, hidden, out_dim)

    def embed(self, x: Tensor) -> Tensor:
        """The head's pre-activation ``a`` (scaled by ``1/sqrt(D)`` if set); the hash code is ``sign(a)``."""
        return self.head(self.encoder(x)) * self.scale

    def negatives_mask(self, z_tilde: Tensor, z: Tensor, index2: Tensor) -> tuple[Tensor, Tensor | None]:
        """The pool of codewords and the per-anchor mask of the ones summed over (``None``: all)."""
        if self.source is not None:
            pool, valid = self.source.pool(z, index2)
        else:
            pool, valid = z, index2[:, None] != index2[None, :]
        if valid is None:
            valid = torch.ones(z_tilde.shape[0], pool.shape[0], dtype=torch.bool, device=z.device)
        if self.selector is None:
            return pool, (valid if self.mask_self_partner else None)
        keep = self.selector.select((z_tilde @ pool.T).detach(), valid)
        return pool, (keep if self.mask_self_partner else keep | ~valid)

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict[str, float]]:
        """One training step: the loss of Eq. 19 on two views of ``B`` examples."""
        x1, x2 = check_two_views(views)
        h = encode_views(self.encoder, x1, x2, self.forward_views)
        a = self.head(h) * self.scale
        r = self.inference(h) * self.scale
        z = torch.tanh(a)
        z_tilde, flips = self.channel(z)
        index2 = torch.cat([index, index]).to(z.device)
        pool, keep = self.negatives_mask(z_tilde, z, index2)
        positive = nac_positive(z_tilde, swap_halves(r))
        negatives, count = nac_negatives(z_tilde, pool, self.channel.beta, keep)
        loss = (negatives - positive).mean()
        if self.source is not None:
            self.source.update(z.detach(), index2)
        with torch.no_grad():
            metrics = {
                "mi_bound": nac_mi_bound(positive, negatives, count, self.p, self.out_dim).item(),
                "positive": positive.mean().item(),
                "negatives": negatives.mean().item(),
                "negatives_count": count.float().mean().item(),
                "z_abs_mean": z.abs().mean().item(),
                "flip_rate": (flips < 0).float().mean().item(),
                "distinct_codes_fraction": distinct_fraction(a),
            }
        return loss, metrics | self.negatives_metrics()


def distinct_fraction(a: Tensor) -> float:
    """Distinct activation codes ``sign(a)`` among the rows of ``a``, as a fraction of the rows."""
    return torch.unique(a.detach() > 0, dim=0).shape[0] / a.shape[0]
