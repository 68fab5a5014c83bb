"""IR and IRing: the loss against a loop over anchors, the draws, the bank update."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import ssl_contrastive.ir as ir_module
from ssl_contrastive.ir import IR, draw_negatives
from ssl_contrastive.memory_bank import MemoryBank
from ssl_encoders.small_cnn import SmallCNN
from ssl_ring.ring_selector import RingSelector

N, K, DIM, B = 16, 6, 4, 4


def make_ir(selector=None, momentum=0.0, temperature=0.1, **options):
    torch.manual_seed(0)
    bank = MemoryBank(k=K, momentum=momentum, dim=DIM, num_examples=N)
    return IR(out_dim=DIM, temperature=temperature, encoder=SmallCNN(width=2), source=bank, selector=selector,
              **options)


def capture_draws(monkeypatch):
    drawn = []

    def spy(*args, **kwargs):
        out = draw_negatives(*args, **kwargs)
        drawn.append(out)
        return out

    monkeypatch.setattr(ir_module, "draw_negatives", spy)
    return drawn


def loop_loss(z, bank, index, neg_index, t):
    total = 0.0
    for b in range(z.shape[0]):
        pos = float(z[b] @ bank[index[b]]) / t
        denominator = math.exp(pos) + sum(math.exp(float(z[b] @ bank[j]) / t) for j in neg_index[b].tolist())
        total += math.log(denominator) - pos
    return total / z.shape[0]


@pytest.fixture(params=["full_product", "gathered_entries"])
def path(request, monkeypatch):
    """Both ways memory_bank_nce computes the drawn similarities (small banks / ImageNet-sized banks)."""
    if request.param == "gathered_entries":
        monkeypatch.setattr(ir_module, "FULL_PRODUCT_RATIO", 0)
    return request.param


def batch(seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(B, 3, 8, 8, generator=gen)], torch.tensor([3, 0, 9, 15])


@pytest.mark.parametrize("ring", [False, True])
def test_loss_matches_loop_and_bank_is_updated(monkeypatch, path, ring):
    selector = RingSelector(l=10, u=50, schedule="none") if ring else None
    objective = make_ir(selector)
    views, index = batch()
    drawn = capture_draws(monkeypatch)
    bank_before = objective.source.bank.clone()
    z = F.normalize(objective.embed(views[0]), dim=1).detach()
    loss, metrics = objective.step(views, index)
    expected = loop_loss(z, bank_before, index, drawn[0], objective.temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert torch.allclose(objective.source.bank[index], z, atol=1e-6)  # momentum 0 replaces the entries
    others = [i for i in range(N) if i not in index.tolist()]
    assert torch.equal(objective.source.bank[others], bank_before[others])
    assert drawn[0].shape == (B, K)
    assert metrics["positive_similarity"] == pytest.approx(float((z * bank_before[index]).sum(1).mean()), rel=1e-5)


@pytest.mark.parametrize("ring", [False, True])
def test_float64_anchors_match_loop_loss(monkeypatch, path, ring):
    """float64 anchors (a double-precision model) against a float32 bank: the loss is computed in float64."""
    torch.manual_seed(0)
    bank = MemoryBank(k=K, dim=DIM, num_examples=N)
    index = torch.tensor([3, 0, 9, 15])
    z = F.normalize(torch.randn(B, DIM, dtype=torch.float64), dim=1).requires_grad_()
    drawn = capture_draws(monkeypatch)
    selector = RingSelector(l=10, u=50, schedule="none") if ring else None
    loss, _ = ir_module.memory_bank_nce(z, bank, index, 0.1, selector)
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(loop_loss(z.detach(), bank.bank.double(), index, drawn[0], 0.1), rel=1e-12)
    loss.backward()
    assert z.grad.dtype == torch.float64 and z.grad.abs().sum() > 0


def test_plain_draws_never_pick_the_anchors_own_entry_and_cover_the_rest():
    torch.manual_seed(0)
    index = torch.tensor([0, 5, 9])
    drawn = draw_negatives(index, None, 10, 2000)
    for b, own in enumerate(index.tolist()):
        assert set(drawn[b].tolist()) == set(range(10)) - {own}


def test_ring_draws_come_only_from_the_ring():
    objective = make_ir(RingSelector(l=10, u=50, schedule="none"))
    objective.source.k = 500
    views, index = batch()
    z = F.normalize(objective.embed(views[0]), dim=1).detach()
    sim = z @ objective.source.bank.T
    with torch.no_grad():
        keep = objective.selector.select(sim, objective.source.pool(index=index)[1])
        torch.manual_seed(3)
        neg_index = draw_negatives(index, keep, N, 500)
    for b in range(B):
        others = [j for j in range(N) if j != int(index[b])]
        ranked = sorted(others, key=lambda j: -float(sim[b, j]))
        ring = set(ranked[1:8])  # n = 15: ranks [floor(1.5), ceil(7.5)) = [1, 8)
        assert set(torch.nonzero(keep[b]).flatten().tolist()) == ring
        assert set(neg_index[b].tolist()) == ring  # 500 draws hit each of the 7 entries


def authors_iring_band(sim, lo_pct, hi_pct):
    """The authors' IRing band: every bank entry, the anchor's own included, sorted; our cut rule on n = N."""
    n = sim.shape[1]
    lo, hi = math.floor(lo_pct * n / 100 + 1e-9), math.ceil(hi_pct * n / 100 - 1e-9)
    return [set(torch.argsort(row, descending=True)[lo:hi].tolist()) for row in sim]


@pytest.mark.parametrize("rank_own_entry", [False, True])
def test_rank_own_entry_reproduces_the_authors_ranking(monkeypatch, path, rank_own_entry):
    objective = make_ir(RingSelector(l=10, u=50, schedule="none"), rank_own_entry=rank_own_entry)
    objective.source.k = 200
    views, index = batch()
    z = F.normalize(objective.embed(views[0]), dim=1).detach()
    objective.source.bank[index] = z  # the own entry is the most similar: the authors' rank 0
    bank_before = objective.source.bank.clone()
    sim = z @ bank_before.T
    theirs = authors_iring_band(sim, 10, 50)  # n = 16: ranks [1, 8)
    keeps, drawn = [], capture_draws(monkeypatch)
    real_select = objective.selector.select
    monkeypatch.setattr(objective.selector, "select", lambda s, v: keeps.append(real_select(s, v)) or keeps[-1])
    loss, _ = objective.step(views, index)
    ours = [set(torch.nonzero(row).flatten().tolist()) for row in keeps[0]]
    for b in range(B):
        assert int(index[b]) not in theirs[b]  # rank 0, below the inner cut
        assert set(drawn[0][b].tolist()) == ours[b]  # 200 draws cover the 7 (or 8) entries
    if rank_own_entry:
        assert ours == theirs
    else:  # own entry left out first: n = 15, ranks [1, 8) of the others = the authors' ranks [2, 9)
        assert all(len(o) == 7 and o != t and len(o & t) == 6 for o, t in zip(ours, theirs))
    assert loss.item() == pytest.approx(loop_loss(z, bank_before, index, drawn[0], objective.temperature), rel=1e-5)


def test_ring_with_whole_band_equals_plain_loss(monkeypatch, path):
    plain = make_ir()
    ringed = copy.deepcopy(plain)
    ringed.selector = RingSelector(l=0, u=100, schedule="none")
    views, index = batch()
    drawn = capture_draws(monkeypatch)
    torch.manual_seed(7)
    loss_plain, _ = plain.step(views, index)
    torch.manual_seed(7)
    loss_ring, metrics = ringed.step(views, index)
    assert torch.equal(drawn[0], drawn[1])
    assert torch.equal(loss_plain, loss_ring)
    assert metrics["ring_kept_per_anchor"] == N - 1
    assert torch.equal(plain.source.bank, ringed.source.bank)


def test_gradient_reaches_encoder_and_head_not_the_bank(path):
    objective = make_ir(RingSelector(l=1, u=50))
    views, index = batch()
    loss, metrics = objective.step(views, index)
    loss.backward()
    assert objective.head.weight.grad is not None and objective.head.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in objective.encoder.parameters())
    assert not objective.source.bank.requires_grad
    assert metrics["ring_kept_per_anchor"] == N - 1  # step 0 of the linear schedule: u = 100, l = 1 of 15 -> ranks [0, 15)


def test_embed_is_the_unnormalised_projection():
    objective = make_ir()
    x = batch()[0][0]
    out = objective.embed(x)
    assert out.shape == (B, DIM)
    assert torch.allclose(out, objective.head(objective.encoder(x)))


def test_default_bank_and_validation():
    objective = IR(out_dim=8, encoder=SmallCNN(width=2), num_examples=10)
    assert len(objective.source) == 10 and objective.source.bank.shape[1] == 8
    with pytest.raises(ValueError, match="^out_dim"):
        IR(out_dim=8, encoder=SmallCNN(width=2), source=MemoryBank(dim=4, num_examples=10))
    with pytest.raises(ValueError, match="^temperature"):
        IR(temperature=0, encoder=SmallCNN(width=2), num_examples=10)
    with pytest.raises(ValueError, match="^source Linear lacks pool, update, positives"):
        IR(encoder=SmallCNN(width=2), source=torch.nn.Linear(2, 2))
