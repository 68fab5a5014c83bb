"""Background neighbours B_i and close neighbours C_i of Local Aggregation (Zhuang et al., 2019, Sec. 3)."""

from __future__ import annotations

import torch
from torch import Tensor


def background_neighbours(sim: Tensor, index: Tensor, k: int) -> Tensor:
    """``B_i``: the ``[B, k]`` bank indices of the ``k`` entries most similar to each anchor.

    ``sim`` is the ``[B, N]`` anchor-to-bank similarity. The anchor's own
    entry (``index``) is always one of them: if it is not among the ``k``
    nearest, it takes the place of the ``k``-th. In the authors' code it is
    simply the ``k`` nearest; forcing the own entry in keeps ``C_i ∩ B_i``
    non-empty (``i`` is always its own close neighbour), so the loss stays
    finite while the bank is still random, and changes nothing once the own
    entry is among the nearest, as it is after a few epochs.

    Args:
        sim: ``[B, N]`` similarities (no gradient needed).
        index: ``[B]`` the anchors' own bank entries.
        k: number of background neighbours, ``1 <= k <= N``.
    """
    if not 1 <= k <= sim.shape[1]:
        raise ValueError(f"k must lie in [1, {sim.shape[1]}] (the bank size), got {k}")
    top = torch.topk(sim, k, dim=1, largest=True, sorted=True).indices
    has_own = (top == index[:, None]).any(dim=1)
    top[:, -1] = torch.where(has_own, top[:, -1], index)
    return top


def close_neighbour_mask(labels: Tensor, index: Tensor, neighbours: Tensor) -> Tensor:
    """``[B, k]`` mask of the entries of ``neighbours`` that lie in ``C_i``.

    ``C_i`` is the union, over the k-means runs, of the bank entries in the
    same cluster as entry ``i`` (LA, Sec. 3): an entry is a close neighbour
    if it shares ``i``'s cluster in at least one run.

    Args:
        labels: ``[H, N]`` cluster labels of every bank entry in each of ``H`` runs.
        index: ``[B]`` the anchors' own bank entries.
        neighbours: ``[B, k]`` bank indices (e.g. :func:`background_neighbours`).
    """
    own = labels[:, index]  # [H, B]
    theirs = labels[:, neighbours]  # [H, B, k]
    return (theirs == own[:, :, None]).any(dim=0)
