"""The LA objective: clusters per epoch (announced or counted), the IR warm-up, the bank update, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ssl_la.local_aggregation as la_module
from ssl_contrastive.ir import memory_bank_nce
from ssl_contrastive.memory_bank import MemoryBank
from ssl_core.seeded_rng import item_seed
from ssl_encoders.small_cnn import SmallCNN
from ssl_la.kmeans import kmeans
from ssl_la.la_loss import la_loss
from ssl_la.local_aggregation import LocalAggregation
from ssl_ring.ring_selector import RingSelector

N, BATCH, DIM, K = 24, 8, 8, 6  # 3 steps per epoch
STEPS_PER_EPOCH = N // BATCH


def make_la(seed: int = 0, source=None, **params) -> LocalAggregation:
    torch.manual_seed(seed)
    if source is None:
        source = MemoryBank(k=K, momentum=0.5, dim=DIM, num_examples=N)
    params = {"num_clusters": 4, "kmeans_runs": 2, "kmeans_iters": 5, "kmeans_backend": "torch", **params}
    return LocalAggregation(out_dim=DIM, encoder=SmallCNN(width=2, in_channels=1), source=source, **params)


def batches(epochs: int):
    """(global step, epoch, views, index) of ``epochs`` epochs of random 8x8 images, a fixed order."""
    g = torch.Generator().manual_seed(1)
    images = torch.randn(N, 1, 8, 8, generator=g)
    step = 0
    for epoch in range(epochs):
        perm = torch.randperm(N, generator=g)
        for b in range(STEPS_PER_EPOCH):
            index = perm[b * BATCH : (b + 1) * BATCH]
            yield step, epoch, [images[index] + 0.1 * torch.randn(BATCH, 1, 8, 8, generator=g)], index
            step += 1


def train(objective, data, announce: bool, record=None):
    optimizer = torch.optim.SGD(objective.parameters(), lr=0.1)
    losses = []
    for step, epoch, views, index in data:
        if announce:
            objective.on_step(step, epoch)
        loss, _ = objective.step(views, index)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if record is not None:
            record.append((int(objective.clusters_epoch), objective.cluster_labels.clone()))
    return losses


def test_clusters_are_computed_at_each_new_epoch_from_the_bank(monkeypatch):
    la = make_la()
    calls = []
    real = la_module.kmeans

    def spy(x, k, seed, iters, backend):
        calls.append((x.clone(), seed))
        return real(x, k, seed, iters, backend)

    monkeypatch.setattr(la_module, "kmeans", spy)
    bank_at_start = la.source.bank.clone()
    la.on_step(0, 0)
    assert int(la.clusters_epoch) == 0 and len(calls) == 2
    for run, (x, seed) in enumerate(calls):
        assert torch.equal(x, bank_at_start) and seed == item_seed(0, 0, run)
        assert torch.equal(la.cluster_labels[run], kmeans(bank_at_start, 4, seed, 5, "torch"))
    la.on_step(1, 0)
    la.on_step(2, 0)
    assert len(calls) == 2, "no re-clustering within an epoch"
    la.source.bank.copy_(F.normalize(torch.randn(N, DIM), dim=1))
    la.on_step(3, 1)
    assert len(calls) == 4 and int(la.clusters_epoch) == 1
    assert torch.equal(calls[2][0], la.source.bank) and calls[2][1] == item_seed(0, 1, 0)


def test_a_step_is_the_la_loss_on_the_bank_then_a_momentum_update():
    la = make_la()
    la.on_step(0, 0)
    _, _, views, index = next(batches(1))
    bank_before = la.source.bank.clone()
    loss, metrics = la.step(views, index)
    z = F.normalize(la.embed(views[0]), dim=1)
    expected, _ = la_loss(z, bank_before, index, la.cluster_labels, K, 0.07)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(la.source.bank[index], F.normalize(0.5 * bank_before[index] + 0.5 * z.detach(), dim=1), atol=1e-6)
    assert "close_in_background" in metrics and int(la.steps_done) == 1


def test_without_on_step_the_epochs_are_counted_and_training_is_the_same():
    announced, counted = make_la(), make_la()
    record_a, record_c = [], []
    losses_a = train(announced, batches(3), announce=True, record=record_a)
    losses_c = train(counted, batches(3), announce=False, record=record_c)
    assert losses_a == losses_c
    assert [e for e, _ in record_c] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for (_, a), (_, c) in zip(record_a, record_c):
        assert torch.equal(a, c)
    assert not torch.equal(record_c[0][1], record_c[3][1]), "the epoch-1 clusters differ from epoch 0's"


def test_ir_warmup_trains_plain_ir_first():
    la = make_la(ir_warmup_epochs=1)
    data = list(batches(2))
    _, _, views, index = data[0]
    la.on_step(0, 0)
    assert int(la.clusters_epoch) == -1, "no clustering during the warm-up"
    bank = la.source.bank.clone()
    torch.manual_seed(5)
    loss, _ = la.step(views, index)
    reference = MemoryBank(k=K, momentum=0.5, dim=DIM, num_examples=N)
    reference.bank.copy_(bank)
    torch.manual_seed(5)
    expected, _ = memory_bank_nce(F.normalize(la.embed(views[0]), dim=1), reference, index, 0.07)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    la.on_step(3, 1)
    assert int(la.clusters_epoch) == 1


def test_resume_mid_epoch_uses_the_saved_clusters():
    data = list(batches(2))
    straight = make_la()
    expected = train(straight, data, announce=True)

    first = make_la()
    head = train(first, data[:4], announce=True)  # stops after step 3: mid-epoch 1, clusters of epoch 1 made
    state = {k: v.clone() for k, v in first.state_dict().items()}
    assert {"cluster_labels", "clusters_epoch", "steps_done", "source.bank"} <= set(state)
    resumed = make_la(seed=9)  # other initial weights, overwritten by the checkpoint
    resumed.load_state_dict(state)
    resumed.on_step(4, 1)  # what the trainer calls right after a resume
    assert torch.equal(resumed.cluster_labels, state["cluster_labels"]), "mid-epoch: no re-clustering"
    fresh = make_la()
    fresh.source.bank.copy_(state["source.bank"])
    fresh.on_step(4, 1)
    assert not torch.equal(fresh.cluster_labels, state["cluster_labels"]), "re-clustering mid-epoch would differ"
    # plain SGD without momentum has no state: the optimiser need not be restored for this check
    tail = train(resumed, data[4:], announce=True)
    assert head + tail == expected


@pytest.mark.parametrize("bad, message", [
    ({"num_clusters": N + 1}, "num_clusters must lie in"),
    ({"kmeans_runs": 0}, "kmeans_runs"),
    ({"temperature": 0.0}, "temperature"),
    ({"ir_warmup_epochs": -1}, "ir_warmup_epochs"),
])
def test_bad_parameters_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        make_la(**bad)


def test_a_selector_and_a_too_large_k_are_refused():
    with pytest.raises(ValueError, match="no negative selector"):
        make_la(selector=RingSelector())
    with pytest.raises(ValueError, match="exceeds its 24 entries"):
        make_la(source=MemoryBank(k=N + 1, momentum=0.5, dim=DIM, num_examples=N))


def test_a_bank_built_here_has_momentum_one_half():
    with pytest.raises(ValueError, match="exceeds"):  # the default k = 4096 cannot fit 24 entries
        LocalAggregation(out_dim=DIM, num_clusters=4, encoder=SmallCNN(width=2, in_channels=1), num_examples=N)
    la = LocalAggregation(out_dim=DIM, num_clusters=4, encoder=SmallCNN(width=2, in_channels=1), num_examples=5000)
    assert la.source.momentum == 0.5 and la.source.k == 4096


def test_the_faiss_backend_is_refused_at_build_time_without_faiss(monkeypatch):
    monkeypatch.setattr(la_module, "faiss_available", lambda: False)  # as on a machine without faiss
    with pytest.raises(ValueError, match="kmeans_backend 'faiss' needs the faiss package"):
        make_la(kmeans_backend="faiss")


def test_a_bank_with_another_momentum_is_warned_about():
    with pytest.warns(UserWarning, match="momentum 0.5"):
        make_la(source=MemoryBank(k=K, momentum=0.0, dim=DIM, num_examples=N))
