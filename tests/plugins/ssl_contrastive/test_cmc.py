"""CMC on L and ab: encoder adaptation, shapes, the swapped banks against a loop, bank updates."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ssl_contrastive.ir as ir_module
from ssl_contrastive.cmc import CMC, LabSplitEncoder, with_in_channels
from ssl_contrastive.ir import draw_negatives
from ssl_contrastive.memory_bank import MemoryBank
from ssl_encoders.small_cnn import SmallCNN
from ssl_ring.ring_selector import RingSelector

N, K, DIM, B = 12, 5, 4, 4


def make_cmc(selector=None):
    torch.manual_seed(0)
    return CMC(out_dim=DIM, temperature=0.1, encoder=SmallCNN(width=2), selector=selector, num_examples=N)


def batch(seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(B, 3, 8, 8, generator=gen)], torch.tensor([2, 5, 0, 11])


def test_with_in_channels_swaps_only_the_first_conv():
    encoder = SmallCNN(width=2)
    adapted = with_in_channels(encoder, 1)
    first = adapted.features[0]
    assert isinstance(first, nn.Conv2d) and first.in_channels == 1 and first.out_channels == 2
    assert first.kernel_size == (3, 3) and first.bias is None
    assert encoder.features[0].in_channels == 3  # the given encoder is untouched
    assert torch.equal(adapted.features[3].weight, encoder.features[3].weight)  # the rest is copied
    assert adapted.features[3].weight is not encoder.features[3].weight
    assert adapted(torch.randn(2, 1, 8, 8)).shape == (2, encoder.feature_dim)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        with_in_channels(nn.Sequential(nn.Linear(3, 3)), 1)


def test_lab_split_encoder_contract():
    objective = make_cmc()
    encoder = objective.encoder
    assert isinstance(encoder, LabSplitEncoder)
    assert encoder.encoder_l.features[0].in_channels == 1 and encoder.encoder_ab.features[0].in_channels == 2
    x = batch()[0][0]
    encoder.eval()
    features = encoder(x)
    assert features.shape == (B, 2 * 8) and encoder.feature_dim == 16
    assert torch.allclose(features[:, :8], encoder.encoder_l(x[:, :1]))
    assert torch.allclose(features[:, 8:], encoder.encoder_ab(x[:, 1:]))
    fmap = encoder.forward_features(x)
    assert fmap.shape == (B, 16, 2, 2)
    assert torch.allclose(encoder.pool(fmap), features, atol=1e-6)
    with pytest.raises(ValueError, match="3-channel Lab"):
        encoder(torch.randn(B, 1, 8, 8))


def test_embed_is_the_two_normalised_embeddings():
    objective = make_cmc()
    x = batch()[0][0]
    z = objective.embed(x)
    assert z.shape == (B, 2 * DIM)
    assert torch.allclose(z[:, :DIM].norm(dim=1), torch.ones(B)) and torch.allclose(z[:, DIM:].norm(dim=1), torch.ones(B))
    assert torch.allclose(z[:, :DIM], F.normalize(objective.head_l(objective.encoder.encoder_l(x[:, :1])), dim=1))


def loop_loss(z, bank, index, neg_index, t):
    total = 0.0
    for b in range(z.shape[0]):
        pos = float(z[b] @ bank[index[b]]) / t
        total += math.log(math.exp(pos) + sum(math.exp(float(z[b] @ bank[j]) / t) for j in neg_index[b].tolist())) - pos
    return total / z.shape[0]


@pytest.mark.parametrize("ring", [False, True])
def test_l_against_ab_bank_and_ab_against_l_bank(monkeypatch, ring):
    objective = make_cmc(RingSelector(l=10, u=50, schedule="none") if ring else None)
    views, index = batch()
    drawn = []

    def spy(*args, **kwargs):
        drawn.append(draw_negatives(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(ir_module, "draw_negatives", spy)
    with torch.no_grad():  # make the two banks different so that a swap would show
        objective.bank_ab.bank.copy_(F.normalize(torch.randn(N, DIM), dim=1))
    bank_l, bank_ab = objective.bank_l.bank.clone(), objective.bank_ab.bank.clone()
    with torch.no_grad():
        z_l, z_ab = objective.embed_views(views[0])
    loss, metrics = objective.step(views, index)
    expected_l = loop_loss(z_l, bank_ab, index, drawn[0], 0.1)  # L anchors, ab bank
    expected_ab = loop_loss(z_ab, bank_l, index, drawn[1], 0.1)  # ab anchors, L bank
    assert metrics["loss_l"] == pytest.approx(expected_l, rel=1e-5)
    assert metrics["loss_ab"] == pytest.approx(expected_ab, rel=1e-5)
    assert loss.item() == pytest.approx(expected_l + expected_ab, rel=1e-5)
    # banks move towards their own view with the CMC momentum 0.5
    assert torch.allclose(objective.bank_l.bank[index], F.normalize(0.5 * bank_l[index] + 0.5 * z_l, dim=1), atol=1e-6)
    assert torch.allclose(objective.bank_ab.bank[index], F.normalize(0.5 * bank_ab[index] + 0.5 * z_ab, dim=1), atol=1e-6)
    if ring:  # n = 11 valid entries: ranks [1, 6) -> 5 kept
        assert metrics["ring_kept_per_anchor_l"] == 5 and metrics["ring_kept_per_anchor_ab"] == 5


def test_backward_reaches_both_encoders():
    objective = make_cmc(RingSelector())
    loss, _ = objective.step(*batch())
    assert math.isfinite(loss.item())
    loss.backward()
    for module in (objective.encoder.encoder_l, objective.encoder.encoder_ab, objective.head_l, objective.head_ab):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters() if p.dim() > 1)


def test_given_bank_keeps_its_momentum_and_is_copied():
    bank = MemoryBank(k=K, momentum=0.0, dim=DIM, num_examples=N)
    objective = CMC(out_dim=DIM, encoder=SmallCNN(width=2), source=bank)
    assert objective.bank_l is bank and objective.bank_ab is not bank
    assert objective.bank_ab.momentum == 0.0 and torch.equal(objective.bank_ab.bank, bank.bank)
    assert make_cmc().bank_l.momentum == 0.5  # a bank built by CMC uses CMC's 0.5
