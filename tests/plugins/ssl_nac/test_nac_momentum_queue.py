"""NAC-MQ (Eq. 20): beta multiplies the queue similarities, momentum networks, enqueue, regulariser."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from ssl_contrastive.queue import KeyQueue
from ssl_nac.nac_momentum_queue import NACMomentumQueue

D = 4


def make(encoder, p=0.01, momentum=0.9, l2_weight=0.1, queue_size=16):
    torch.manual_seed(0)
    queue = KeyQueue(size=queue_size, dim=D)
    obj = NACMomentumQueue(encoder=copy.deepcopy(encoder), source=queue, out_dim=D, p=p, momentum=momentum, l2_weight=l2_weight)
    with torch.no_grad():  # let the online networks drift from the momentum ones
        for net in (obj.encoder, obj.head, obj.inference):
            for prm in net.parameters():
                prm.add_(0.2 * torch.randn_like(prm))
    return obj, queue


def expected_terms(obj, views, keys, divide=False):
    """Eq. 20 by hand, with no flips: momentum networks after this step's update."""
    x = torch.cat(views)
    m = obj.momentum
    enc, head, inf = (copy.deepcopy(n) for n in (obj.encoder_momentum, obj.head_momentum, obj.inference_momentum))
    with torch.no_grad():
        for mom, online in ((enc, obj.encoder), (head, obj.head), (inf, obj.inference)):
            for pk, pq in zip(mom.parameters(), online.parameters()):
                pk.mul_(m).add_((1 - m) * pq)
        hm = enc(x)
        v = torch.tanh(head(hm) / math.sqrt(D))
        r_hat = inf(hm) / math.sqrt(D)
        h = obj.encoder(x)
        z = torch.tanh(obj.head(h) / math.sqrt(D))
        r = obj.inference(h) / math.sqrt(D)
    beta = 0.5 * math.log((1 - obj.p) / obj.p)
    scale = 1 / beta if divide else beta
    n = z.shape[0]
    total = 0.0
    for i in range(n):
        other = (i + n // 2) % n
        neg = math.log(sum(math.exp(scale * float(z[i] @ keys[k])) for k in range(keys.shape[0])))
        pos = 0.5 * float((z[i] * r_hat[other] + torch.log(torch.sigmoid(r_hat[other]) * torch.sigmoid(-r_hat[other]))).sum())
        fit = 0.5 * float((z[i] * r[other] + torch.log(torch.sigmoid(r[other]) * torch.sigmoid(-r[other]))).sum())
        total += neg - pos + obj.l2_weight * float((z[i] ** 2).sum()) - fit
    return total / n, v


def test_queue_similarities_are_multiplied_by_beta_not_divided(tiny_encoder, two_views):
    views, index = two_views
    obj, queue = make(tiny_encoder, p=0.01)  # beta = 2.30, 1/beta = 0.43: far apart
    keys = torch.tanh(torch.randn(10, D, generator=torch.Generator().manual_seed(4)) * 3)
    queue.update(keys)
    obj.channel.sample = lambda shape, device=None: torch.ones(shape)
    want, _ = expected_terms(obj, views, keys)
    wrong, _ = expected_terms(obj, views, keys, divide=True)
    loss, metrics = obj.step(views, index)
    assert loss.item() == pytest.approx(want, abs=1e-5)
    assert abs(loss.item() - wrong) > 0.1
    assert metrics["negatives_count"] == 10.0


def test_step_updates_momentum_then_enqueues_keys_after_the_loss(tiny_encoder, two_views):
    views, index = two_views
    obj, queue = make(tiny_encoder, momentum=0.9)
    queue.update(torch.zeros(2, D))
    obj.channel.sample = lambda shape, device=None: torch.ones(shape)
    _, v = expected_terms(obj, views, queue.pool()[0])
    expected_encoder = copy.deepcopy(obj.encoder_momentum)
    with torch.no_grad():
        for pk, pq in zip(expected_encoder.parameters(), obj.encoder.parameters()):
            pk.mul_(0.9).add_(0.1 * pq)
    loss, metrics = obj.step(views, index)
    assert metrics["negatives_count"] == 2.0  # only what was queued before this batch
    assert int(queue.filled) == 2 + 6 and int(queue.pointer) == 8
    assert torch.allclose(queue.keys[2:8], v, atol=1e-6)
    for got, want in zip(obj.encoder_momentum.parameters(), expected_encoder.parameters()):
        assert torch.allclose(got, want)
    loss.backward()
    assert all(p.grad is None for net in (obj.encoder_momentum, obj.head_momentum, obj.inference_momentum)
               for p in net.parameters())
    assert all(p.grad is not None for p in obj.inference.parameters())  # fitted by its own term
    assert all(p.grad is not None for p in obj.encoder.parameters())


def test_first_step_with_empty_queue_uses_batch_keys(tiny_encoder, two_views):
    views, index = two_views
    obj, queue = make(tiny_encoder)
    loss, metrics = obj.step(views, index)
    assert math.isfinite(loss.item()) and metrics["negatives_count"] == 6.0
    assert int(queue.filled) == 6


def test_l2_regulariser_weight(tiny_encoder, two_views):
    views, index = two_views
    losses = []
    for weight in (0.0, 0.5):
        obj, queue = make(tiny_encoder, l2_weight=weight)
        queue.update(torch.ones(3, D) * 0.5)
        obj.channel.sample = lambda shape, device=None: torch.ones(shape)
        loss, metrics = obj.step(views, index)
        losses.append((loss.item(), metrics["l2"]))
    assert losses[0][1] == 0.0
    assert losses[1][0] - losses[0][0] == pytest.approx(losses[1][1], abs=1e-5)


def test_validation(tiny_encoder):
    queue = KeyQueue(size=4, dim=D)
    with pytest.raises(ValueError, match="source"):
        NACMomentumQueue(encoder=tiny_encoder, out_dim=D)
    with pytest.raises(ValueError, match="momentum"):
        NACMomentumQueue(encoder=tiny_encoder, source=queue, out_dim=D, momentum=1.0)
    with pytest.raises(ValueError, match="p must lie"):
        NACMomentumQueue(encoder=tiny_encoder, source=queue, out_dim=D, p=0.0)
    with pytest.raises(ValueError, match="l2_weight"):
        NACMomentumQueue(encoder=tiny_encoder, source=queue, out_dim=D, l2_weight=-1.0)
