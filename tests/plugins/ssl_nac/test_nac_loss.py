"""The NAC loss against a loop over Eq. 19, and its limits p -> 0 and p -> 0.5 (Section 3.2, 4.5)."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_nac.nac_loss import nac_loss, nac_mi_bound, nac_negatives, nac_positive
from ssl_nac.noisy_channel import channel_beta, check_flip_probability, sample_flips


def swap(x):
    b = x.shape[0] // 2
    return torch.cat([x[b:], x[:b]])


def eq19_bound(z, flips, r, p):
    """Eq. 19 written out with loops: mean over the 2B anchors of
    0.5 sum_d [z~_d r'_d + log s(r'_d)(1 - s(r'_d))] - log (1/2K) sum_k exp(beta z~ . z_k),
    r' the inference logits of the other view of the anchor's example."""
    n, d = z.shape
    beta = 0.5 * math.log((1 - p) / p)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    total = 0.0
    for i in range(n):
        other = (i + n // 2) % n
        zt = [float(flips[i, j] * z[i, j]) for j in range(d)]
        pos = 0.5 * sum(zt[j] * float(r[other, j]) + math.log(sig(float(r[other, j])) * (1 - sig(float(r[other, j]))))
                        for j in range(d))
        marginal = sum(math.exp(beta * sum(zt[j] * float(z[k, j]) for j in range(d))) for k in range(n)) / n
        total += pos - math.log(marginal)
    return total / n


def test_loss_matches_loop_over_eq19_with_fixed_flips():
    gen = torch.Generator().manual_seed(0)
    z = torch.tanh(torch.randn(6, 5, generator=gen, dtype=torch.float64))
    r = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    flips = torch.where(torch.rand(6, 5, generator=gen) < 0.3, -1.0, 1.0).double()
    p = 0.2
    loss = nac_loss(flips * z, z, swap(r), p)
    bound = eq19_bound(z, flips, r, p)
    # loss = -(bound) + log(2K): the subsampling constant is dropped (no gradient)
    assert float(loss) == pytest.approx(-bound + math.log(6), abs=1e-10)
    positive = nac_positive(flips * z, swap(r))
    negatives, count = nac_negatives(flips * z, z, channel_beta(p))
    channel = 0.5 * 5 * math.log(p * (1 - p))  # the normaliser of P(c~|c) (Eq. 7) that Eq. 17-19 drop
    assert float(nac_mi_bound(positive, negatives, count, p, 5)) == pytest.approx(bound - channel, abs=1e-10)


def test_beta_multiplies_and_matches_eq7():
    p = 0.1
    assert channel_beta(p) == pytest.approx(0.5 * math.log(9))
    zt, keys = torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    negatives, _ = nac_negatives(zt, keys, channel_beta(p))
    assert float(negatives) == pytest.approx(math.log(math.exp(0) + math.exp(2 * channel_beta(p))))


@pytest.mark.parametrize("p", [0.0, 0.5, 0.7, -0.1])
def test_p_outside_open_interval_is_rejected(p):
    with pytest.raises(ValueError, match=r"p must lie in \(0, 0.5\)"):
        check_flip_probability(p)


def test_flips_have_probability_p():
    gen = torch.Generator().manual_seed(0)
    m = sample_flips((200, 500), 0.3, generator=gen)
    assert set(m.unique().tolist()) == {-1.0, 1.0}
    assert float((m < 0).float().mean()) == pytest.approx(0.3, abs=0.01)


def test_p_to_zero_noiseless_channel_bound_is_code_entropy():
    """p -> 0: no bit is flipped, beta -> inf, and with hard codes and a perfect inference network the
    bound tends to I(X, C) = H(C), the entropy of the codewords (log 2K when all are distinct)."""
    p = 1e-9
    assert bool((sample_flips((100, 128), p, generator=torch.Generator().manual_seed(0)) == 1).all())
    codes = torch.tensor([[1, 1, -1, 1], [1, 1, -1, 1], [-1, 1, 1, 1], [1, -1, -1, -1],
                          [1, -1, 1, 1], [-1, -1, -1, 1]], dtype=torch.float64)
    r_perfect = 60.0 * codes  # Q(c~|x) -> 1: positive term -> 0
    positive = nac_positive(codes, r_perfect)
    assert float(positive.abs().max()) < 1e-20
    negatives, count = nac_negatives(codes, codes, channel_beta(p))
    _, counts = torch.unique(codes, dim=0, return_counts=True)
    entropy = float(-(counts / 6 * torch.log(counts / 6)).sum())
    assert float(nac_mi_bound(positive, negatives, count, p, 4)) == pytest.approx(entropy, abs=1e-6)
    distinct = codes[1:]
    neg_distinct, count_distinct = nac_negatives(distinct, distinct, channel_beta(p))
    assert float(nac_mi_bound(nac_positive(distinct, 60.0 * distinct), neg_distinct, count_distinct, p, 4)) == pytest.approx(
        math.log(5), abs=1e-6)


def test_p_to_half_negatives_constant_log_2k_without_gradient():
    """p -> 0.5: beta -> 0, the negatives' term is the constant log(2K) and sends no gradient to the codes."""
    p = 0.5 - 1e-9
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(8, 16, generator=gen, dtype=torch.float64, requires_grad=True)
    z = torch.tanh(a)
    negatives, _ = nac_negatives(z, z, channel_beta(p))
    assert torch.allclose(negatives, torch.full_like(negatives, math.log(8)), atol=1e-7)
    (grad,) = torch.autograd.grad(negatives.sum(), a)
    assert float(grad.abs().max()) < 1e-7
    r = torch.randn(8, 16, generator=gen, dtype=torch.float64)
    loss = nac_loss(z, z, r, p)
    assert loss.item() == pytest.approx(math.log(8) - nac_positive(z, r).mean().item(), abs=1e-7)


def test_keep_mask_restricts_the_sum_and_rejects_empty_rows():
    zt = torch.tensor([[1.0, 0.5], [0.2, -1.0]])
    keys = torch.tensor([[1.0, 1.0], [-1.0, 0.0], [0.0, 1.0]])
    keep = torch.tensor([[True, False, True], [False, True, False]])
    negatives, count = nac_negatives(zt, keys, 2.0, keep)
    want0 = math.log(math.exp(2.0 * 1.5) + math.exp(2.0 * 0.5))
    assert float(negatives[0]) == pytest.approx(want0, rel=1e-6)
    assert float(negatives[1]) == pytest.approx(2.0 * -0.2, rel=1e-6)
    assert count.tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match="at least one key"):
        nac_negatives(zt, keys, 2.0, torch.zeros(2, 3, dtype=torch.bool))
