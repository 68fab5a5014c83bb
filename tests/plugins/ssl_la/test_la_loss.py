"""LA's neighbour sets and loss against direct Python loops on a tiny bank."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ssl_la.la_loss import la_loss
from ssl_la.neighbours import background_neighbours, close_neighbour_mask

N, D, B, K, H = 12, 3, 4, 5, 2


def tiny(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    bank = F.normalize(torch.randn(N, D, generator=g), dim=1)
    anchor = F.normalize(torch.randn(B, D, generator=g), dim=1)
    index = torch.tensor([0, 5, 7, 11])
    labels = torch.randint(0, 3, (H, N), generator=g)
    return anchor, bank, index, labels


def direct_background(sim_row: list[float], own: int, k: int) -> set[int]:
    order = sorted(range(len(sim_row)), key=lambda j: -sim_row[j])
    chosen = order[:k]
    if own not in chosen:
        chosen[-1] = own
    return set(chosen)


def test_background_neighbours_are_the_k_nearest_with_the_own_entry():
    anchor, bank, index, _ = tiny()
    sim = anchor @ bank.T
    got = background_neighbours(sim, index, K)
    assert got.shape == (B, K)
    for i in range(B):
        assert set(got[i].tolist()) == direct_background(sim[i].tolist(), int(index[i]), K)
        assert int(index[i]) in got[i].tolist()


def test_the_own_entry_replaces_the_kth_nearest_only_when_missing():
    sim = torch.tensor([[0.9, 0.8, 0.7, 0.1, 0.0]])
    assert background_neighbours(sim, torch.tensor([1]), 3).tolist() == [[0, 1, 2]]
    assert background_neighbours(sim, torch.tensor([4]), 3).tolist() == [[0, 1, 4]]
    with pytest.raises(ValueError, match="k must lie"):
        background_neighbours(sim, torch.tensor([0]), 6)


def test_close_neighbours_are_the_union_over_runs_of_the_own_clusters():
    labels = torch.tensor([[0, 0, 1, 1, 2],
                           [3, 4, 4, 3, 3]])
    neighbours = torch.tensor([[1, 2, 3, 4], [0, 2, 3, 4]])
    index = torch.tensor([0, 2])
    # entry 0: run 0 cluster {0, 1}, run 1 cluster {0, 3, 4}; entry 2: run 0 {2, 3}, run 1 {1, 2}
    expected = [[True, False, True, True], [False, True, True, False]]
    assert close_neighbour_mask(labels, index, neighbours).tolist() == expected


def direct_la_loss(anchor, bank, index, labels, k, t) -> float:
    """Mean of -log(P(C ∩ B | v) / P(B | v)), P(A | v) = sum_A exp(v_j.v/t) / sum_bank exp(v_j.v/t)."""
    total = 0.0
    for i in range(anchor.shape[0]):
        v, own = anchor[i].tolist(), int(index[i])
        dots = [sum(a * b for a, b in zip(v, bank[j].tolist())) for j in range(bank.shape[0])]
        z = sum(math.exp(d / t) for d in dots)
        p = [math.exp(d / t) / z for d in dots]
        background = direct_background(dots, own, k)
        close = {j for j in range(bank.shape[0]) if any(labels[h, j] == labels[h, own] for h in range(labels.shape[0]))}
        total += -math.log(sum(p[j] for j in background & close) / sum(p[j] for j in background))
    return total / anchor.shape[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("t", [0.07, 0.5])
def test_loss_equals_a_direct_loop(seed, t):
    anchor, bank, index, labels = tiny(seed)
    loss, metrics = la_loss(anchor, bank, index, labels, K, t)
    assert loss.item() == pytest.approx(direct_la_loss(anchor.double(), bank.double(), index, labels, K, t), rel=1e-5)
    assert 1 <= metrics["close_in_background"] <= K


def test_loss_is_zero_when_every_background_neighbour_is_close():
    anchor, bank, index, _ = tiny()
    loss, _ = la_loss(anchor, bank, index, torch.zeros(H, N, dtype=torch.long), K, 0.07)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_flows_to_the_anchor_only():
    anchor, bank, index, labels = tiny()
    anchor.requires_grad_(True)
    loss, _ = la_loss(anchor, bank, index, labels, K, 0.07)
    loss.backward()
    assert anchor.grad is not None and anchor.grad.abs().sum() > 0
    # the gradient of the direct formula, by finite differences on one coordinate
    eps = 1e-4
    a = anchor.detach().double()
    plus, minus = a.clone(), a.clone()
    plus[1, 0] += eps
    minus[1, 0] -= eps
    fd = (direct_la_loss(plus, bank.double(), index, labels, K, 0.07)
          - direct_la_loss(minus, bank.double(), index, labels, K, 0.07)) / (2 * eps)
    assert anchor.grad[1, 0].item() == pytest.approx(fd, rel=1e-3, abs=1e-5)
