"""The importance-sampled log-likelihood of a latent-variable model (Burda et al., 2016, Eq. 8)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor
from torch.distributions import Distribution, Normal


def gaussian_prior_log_prob(z: Tensor) -> Tensor:
    """``log N(z; 0, I)`` summed over the last dimension."""
    return Normal(0.0, 1.0).log_prob(z).sum(-1)


def importance_sampled_log_likelihood(x: Tensor, posterior: Distribution,
                                      log_likelihood: Callable[[Tensor, Tensor], Tensor], k: int) -> Tensor:
    """``log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K``, z_k ~ q(z|x).

    A lower bound on log p(x) in expectation that tightens as K grows, and is
    exact for any K when q is the true posterior.

    Args:
        x: ``[B, ...]`` data.
        posterior: q(z|x), batch shape ``[B]``, event shape ``[L]`` (e.g. an ``Independent(Normal)``).
        log_likelihood: ``(x, z) -> log p(x|z)`` with ``z`` ``[K, B, L]`` returning ``[K, B]``.
        k: importance samples.

    Returns:
        ``[B]`` estimates in nats.
    """
    z = posterior.sample((k,))
    log_w = log_likelihood(x, z) + gaussian_prior_log_prob(z) - posterior.log_prob(z)
    return torch.logsumexp(log_w, dim=0) - math.log(k)
