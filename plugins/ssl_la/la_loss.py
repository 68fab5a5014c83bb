"""The Local Aggregation loss -log(P(C_i ∩ B_i | v) / P(B_i | v)) (Zhuang et al., 2019, Sec. 3)."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_la.neighbours import background_neighbours, close_neighbour_mask


def la_loss(anchor: Tensor, bank: Tensor, index: Tensor, labels: Tensor, k: int,
            temperature: float) -> tuple[Tensor, dict[str, float]]:
    """Mean over the batch of ``-log(P(C_i ∩ B_i | v_i) / P(B_i | v_i))``.

    ``P(A | v) = sum_{j in A} exp(v_j . v / t) / Z`` with ``Z`` the sum over the
    whole bank (LA, Sec. 3: the non-parametric softmax of IR), so ``Z``
    cancels in the ratio and the loss is

        ``logsumexp_{j in B_i} (v_j . v / t) - logsumexp_{j in C_i ∩ B_i} (v_j . v / t)``

    with ``B_i`` the ``k`` bank entries nearest to ``v`` (its own entry
    included, :func:`~ssl_la.neighbours.background_neighbours`) and ``C_i``
    the union of ``i``'s k-means clusters (:func:`~ssl_la.neighbours.close_neighbour_mask`).
    The gradient flows through ``v`` only; the bank is a constant.

    Args:
        anchor: ``[B, D]`` l2-normalised embeddings ``v``.
        bank: ``[N, D]`` l2-normalised bank entries (float32).
        index: ``[B]`` the anchors' own bank entries.
        labels: ``[H, N]`` cluster labels of the bank entries, one row per k-means run.
        k: background neighbours per anchor.
        temperature: ``t`` (0.07).

    Returns:
        The loss, and metrics: ``close_in_background``, the mean size of
        ``C_i ∩ B_i``, and ``background_similarity``, the mean ``v_j . v`` over ``B_i``.
    """
    sim = anchor @ bank.T  # [B, N]; the bank is a copy outside autograd's view of the memory bank
    neighbours = background_neighbours(sim.detach(), index, k)
    close = close_neighbour_mask(labels, index, neighbours)
    logits = sim.gather(1, neighbours) / temperature
    log_background = torch.logsumexp(logits, dim=1)
    log_close = torch.logsumexp(logits.masked_fill(~close, float("-inf")), dim=1)
    loss = (log_background - log_close).mean()
    metrics = {
        "close_in_background": close.sum(dim=1).float().mean().item(),
        "background_similarity": (logits.detach() * temperature).mean().item(),
    }
    return loss, metrics
