"""The relaxed NAC loss (Park et al., 2021, Eq. 19 and 23) as a pure function."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_nac.noisy_channel import channel_beta


def nac_positive(z_tilde: Tensor, r: Tensor) -> Tensor:
    """The variational term ``log Q_phi(z~ | x)`` per anchor (Eq. 13-15).

    ``0.5 * sum_d [z~_d r_d + log(sigmoid(r_d) (1 - sigmoid(r_d)))]``, the log
    of a product of Bernoulli distributions with logits ``r`` evaluated at
    ``z~`` in [-1, 1]. ``log(s (1 - s))`` is computed as
    ``logsigmoid(r) + logsigmoid(-r)`` so that it stays finite for large
    ``|r|``. The reference code adds the constant ``-log(1/4)`` per bit; it
    changes no gradient and is left out.

    Args:
        z_tilde: ``[N, D]`` received (flipped) relaxed codes.
        r: ``[N, D]`` inference logits predicting them (from the *other* view).
    """
    return 0.5 * (z_tilde * r + F.logsigmoid(r) + F.logsigmoid(-r)).sum(dim=1)


def nac_negatives(z_tilde: Tensor, keys: Tensor, beta: float, keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The subsampled marginal term ``logsumexp_k beta * (z~ . z_k)`` per anchor (Eq. 17).

    Args:
        z_tilde: ``[N, D]`` received relaxed codes.
        keys: ``[K, D]`` relaxed codewords ``z_k`` (the 2B codes of the batch,
            or the queue's keys for NAC-MQ).
        beta: ``0.5 * log((1 - p) / p)``; the similarities are *multiplied* by it.
        keep: optional ``[N, K]`` boolean mask of the keys each anchor sums over.

    Returns:
        ``(negatives [N], count [N])``: the log-sum-exp and the number of keys
        summed over, from which the dropped ``log(1/count)`` constant can be
        restored.
    """
    logits = beta * (z_tilde @ keys.T)
    if keep is None:
        count = torch.full((z_tilde.shape[0],), keys.shape[0], device=z_tilde.device, dtype=z_tilde.dtype)
        return torch.logsumexp(logits, dim=1), count
    if keep.shape != logits.shape:
        raise ValueError(f"keep must have shape {tuple(logits.shape)}, got {tuple(keep.shape)}")
    count = keep.sum(dim=1)
    if bool((count == 0).any()):
        raise ValueError("every anchor needs at least one key in its negatives (a row of keep is all False)")
    return torch.logsumexp(logits.masked_fill(~keep, float("-inf")), dim=1), count.to(z_tilde.dtype)


def nac_loss(z_tilde: Tensor, z_all: Tensor, r_other: Tensor, p: float, keep: Tensor | None = None) -> Tensor:
    """The relaxed NAC loss, ``mean_i [negatives_i - positive_i]`` (Eq. 19, per anchor Eq. 23).

    This is minus Eq. 19 up to the constant ``log(2K)`` of the subsampling
    estimate (Eq. 17): Eq. 19 is ``positive - logsumexp + log(2K)``, and the
    constant changes no gradient, so it is left out of the loss (as in the
    reference code). The objectives report the bound on ``I(X, C~)`` itself
    as the metric ``mi_bound`` (:func:`nac_mi_bound`).

    No temperature and no l2 normalisation: ``z`` lies in [-1, 1]^D and its
    norm is free (Section 3.6).

    Args:
        z_tilde: ``[N, D]`` relaxed codes after the noisy channel, ``m * tanh(a)``.
        z_all: ``[K, D]`` relaxed codewords of the negatives' sum (not flipped).
        r_other: ``[N, D]`` inference logits of the other view of each anchor.
        p: flip probability of the channel, in (0, 0.5); ``beta`` multiplies.
        keep: optional ``[N, K]`` mask restricting each anchor's sum (ring).
    """
    positive = nac_positive(z_tilde, r_other)
    negatives, _ = nac_negatives(z_tilde, z_all, channel_beta(p), keep)
    return (negatives - positive).mean()


def nac_mi_bound(positive: Tensor, negatives: Tensor, count: Tensor, p: float, num_bits: int) -> Tensor:
    """The lower bound on ``I(X, C~)`` of Eq. 18, in nats, averaged over anchors.

    ``positive - negatives + log(count) - (D/2) log(p (1 - p))``: the loss with
    the two constants it drops restored, the subsampling ``log(1/2K)``
    (Eq. 17) and the channel's normaliser ``(D/2) log(p(1-p))`` of
    ``P(c~ | c_k)`` (Eq. 7), which Eq. 17-19 leave out of the denominator.
    With hard codes, ``p -> 0`` and a perfect inference network it tends to
    the entropy of the batch's codewords.
    """
    channel = 0.5 * num_bits * math.log(p * (1.0 - p))
    return (positive - negatives + torch.log(count)).mean() - channel
