"""MoCo v2 and MoCoRing: the loss against a loop, momentum update, shuffle BN, enqueue, DDP gather."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from ssl_contrastive.moco import MoCo
from ssl_contrastive.queue import KeyQueue
from ssl_encoders.small_cnn import SmallCNN
from ssl_ring.ring_selector import RingSelector

DIM, B, QUEUE = 4, 4, 10


def make_moco(selector=None, momentum=0.9, **kw):
    torch.manual_seed(0)
    queue = KeyQueue(size=QUEUE, dim=DIM)
    moco = MoCo(out_dim=DIM, temperature=0.1, momentum=momentum, hidden_dim=8, encoder=SmallCNN(width=2),
                source=queue, selector=selector, **kw)
    queue.update(F.normalize(torch.randn(7, DIM), dim=1))  # partly filled, pointer at 7
    with torch.no_grad():  # let the query network drift from the key network
        for p in (*moco.encoder.parameters(), *moco.head.parameters()):
            p.add_(0.1 * torch.randn_like(p))
    return moco


def batch(seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(B, 3, 8, 8, generator=gen), torch.randn(B, 3, 8, 8, generator=gen)], torch.arange(B)


def expected_momentum_networks(moco):
    encoder_k, head_k = copy.deepcopy(moco.encoder_momentum), copy.deepcopy(moco.head_momentum)
    with torch.no_grad():
        for net_k, net_q in ((encoder_k, moco.encoder), (head_k, moco.head)):
            for pk, pq in zip(net_k.parameters(), net_q.parameters()):
                pk.mul_(moco.momentum).add_((1 - moco.momentum) * pq)
    return encoder_k, head_k


def loop_loss(q, k, pool, t, band=None):
    total = 0.0
    for b in range(q.shape[0]):
        pos = float(q[b] @ k[b]) / t
        sims = [float(q[b] @ pool[j]) for j in range(pool.shape[0])]
        if band is not None:  # keep ranks [lo, hi) of the sims sorted most similar first
            sims = sorted(sims, reverse=True)[band[0] : band[1]]
        total += math.log(math.exp(pos) + sum(math.exp(s / t) for s in sims)) - pos
    return total / q.shape[0]


@pytest.mark.parametrize("ring", [False, True])
def test_loss_matches_loop_and_queue_gets_the_keys(ring):
    selector = RingSelector(l=20, u=60, schedule="none") if ring else None
    moco = make_moco(selector)
    views, index = batch()
    encoder_k, head_k = expected_momentum_networks(moco)
    pool = moco.source.pool()[0].clone()
    with torch.no_grad():
        q = F.normalize(moco.head(moco.encoder(views[0])), dim=1)
        k = F.normalize(head_k(encoder_k(views[1])), dim=1)
    loss, metrics = moco.step(views, index)
    band = (1, 5) if ring else None  # 7 queued keys: ranks [floor(1.4), ceil(4.2)) = [1, 5)
    assert loss.item() == pytest.approx(loop_loss(q, k, pool, 0.1, band), rel=1e-5)
    assert metrics["queue_filled"] == 7
    if ring:
        assert metrics["ring_kept_per_anchor"] == 4
    for pk, pe in zip(moco.encoder_momentum.parameters(), encoder_k.parameters()):
        assert torch.allclose(pk, pe)
    # enqueued after the loss at positions 7, 8, 9, 0 (wrap-around)
    assert int(moco.source.pointer) == 1 and int(moco.source.filled) == QUEUE
    assert torch.allclose(moco.source.keys[[7, 8, 9, 0]], k, atol=1e-5)
    assert torch.equal(moco.source.keys[1:7], pool[1:7])


def test_ring_with_whole_band_equals_plain_loss():
    plain = make_moco()
    ringed = copy.deepcopy(plain)
    ringed.selector = RingSelector(l=0, u=100, schedule="none")
    views, index = batch()
    torch.manual_seed(5)
    loss_plain, _ = plain.step(views, index)
    torch.manual_seed(5)
    loss_ring, metrics = ringed.step(views, index)
    assert torch.equal(loss_plain, loss_ring)
    assert metrics["ring_kept_per_anchor"] == 7
    assert torch.equal(plain.source.keys, ringed.source.keys)


def test_shuffled_keys_equal_unshuffled_keys():
    moco = make_moco()
    x = batch()[0][1]
    torch.manual_seed(3)
    shuffled = moco.keys(x)
    moco.shuffle_bn = False
    assert torch.allclose(shuffled, moco.keys(x), atol=1e-5)


def test_gradient_only_on_query_networks_and_backward_after_enqueue():
    moco = make_moco(RingSelector(l=1, u=50))
    views, index = batch()
    loss, _ = moco.step(views, index)
    loss.backward()  # the queue was updated in place inside step()
    assert all(p.grad is not None for p in moco.encoder.parameters())
    assert all(p.grad is not None for p in moco.head.parameters())
    assert all(not p.requires_grad and p.grad is None for p in moco.encoder_momentum.parameters())


def test_first_step_with_empty_queue():
    torch.manual_seed(0)
    moco = MoCo(out_dim=DIM, encoder=SmallCNN(width=2), source=KeyQueue(size=QUEUE, dim=DIM),
                selector=RingSelector())
    loss, metrics = moco.step(*batch())
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and metrics["queue_filled"] == 0
    assert int(moco.source.filled) == B


def test_symmetric_loss_averages_both_directions_and_enqueues_both_key_sets():
    moco = make_moco(symmetric=True)
    views, index = batch()
    encoder_k, head_k = expected_momentum_networks(moco)
    pool = moco.source.pool()[0].clone()
    with torch.no_grad():
        q1, q2 = (F.normalize(moco.head(moco.encoder(v)), dim=1) for v in views)
        k1, k2 = (F.normalize(head_k(encoder_k(v)), dim=1) for v in views)
    loss, _ = moco.step(views, index)
    expected = 0.5 * (loop_loss(q1, k2, pool, 0.1) + loop_loss(q2, k1, pool, 0.1))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert int(moco.source.pointer) == (7 + 2 * B) % QUEUE


def test_embed_and_validation():
    moco = make_moco()
    x = batch()[0][0]
    assert torch.allclose(moco.embed(x), moco.head(moco.encoder(x)))
    assert moco.embed(x).shape == (B, DIM)
    with pytest.raises(ValueError, match="^out_dim"):
        MoCo(out_dim=8, encoder=SmallCNN(width=2), source=KeyQueue(size=4, dim=4))
    with pytest.raises(ValueError, match="^momentum"):
        MoCo(momentum=1.5, encoder=SmallCNN(width=2))
    with pytest.raises(ValueError, match="needs 2 views"):
        moco.step([x], torch.arange(B))


DDP_WORKER = """
import sys, torch, torch.distributed as dist
from ssl_contrastive.moco import MoCo
from ssl_contrastive.queue import KeyQueue
from ssl_encoders.small_cnn import SmallCNN
from ssl_ring.ring_selector import RingSelector
rank, store, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.set_num_threads(1)
torch.manual_seed(0)  # identical networks on both ranks, built before the process group as Lightning does
moco = MoCo(out_dim=4, hidden_dim=8, encoder=SmallCNN(width=2), source=KeyQueue(size=16, dim=4),
            selector=RingSelector(l=0, u=50, schedule="none"))
dist.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=2)
gen = torch.Generator().manual_seed(10 + rank)
views = [torch.randn(4, 3, 8, 8, generator=gen) for _ in range(2)]
for step in range(2):
    torch.manual_seed(100 * step + rank)
    loss, metrics = moco.step(views, torch.arange(4) + rank * 4)
    loss.backward()
moco.encoder_momentum.eval()  # per-example BatchNorm with the same statistics on both ranks:
for m in moco.encoder_momentum.modules():  # shuffling across ranks must then change nothing
    if isinstance(m, torch.nn.BatchNorm2d):
        m.reset_running_stats()
moco.shuffle_bn = False
plain_keys = moco.keys(views[1])
moco.shuffle_bn = True
torch.save({"keys": moco.source.keys, "filled": int(moco.source.filled), "loss": loss.item(),
            "kept": metrics["ring_kept_per_anchor"], "shuffled": moco.keys(views[1]), "plain": plain_keys}, out)
dist.destroy_process_group()
"""


def test_distributed_shuffle_and_enqueue_gather_every_rank(tmp_path):
    """Two gloo processes: keys gathered into one identical queue, distributed batch shuffle undone."""
    store = tmp_path / "store"
    outs = [tmp_path / f"rank{r}.pt" for r in range(2)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", DDP_WORKER, str(r), str(store), str(outs[r])], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in range(2)]
    logs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    r0, r1 = (torch.load(o) for o in outs)
    assert r0["filled"] == r1["filled"] == 16  # each step enqueued the global batch of 2 x 4 keys
    assert torch.equal(r0["keys"], r1["keys"])  # the same queue on every rank
    assert r0["kept"] == r1["kept"] == 4  # second step: ring of 8 queued keys, u = 50
    for r in (r0, r1):
        assert math.isfinite(r["loss"])
        assert torch.allclose(r["shuffled"], r["plain"], atol=1e-5)  # batch_unshuffle_distributed undoes it
