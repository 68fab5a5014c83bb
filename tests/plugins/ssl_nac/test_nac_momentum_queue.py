"""NAC-MQ (Eq. 20): beta multiplies the queue similarities, momentum networks, enqueue, regulariser."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from ssl_contrastive.queue import KeyQueue
from ssl_nac.nac_momentum_queue import NACMomentumQueue

D = 4


def make(encoder, p=0.01, momentum=0.9, l2_weight=0.1, queue_size=16, **options):
    torch.manual_seed(0)
    queue = KeyQueue(size=queue_size, dim=D)
    obj = NACMomentumQueue(encoder=copy.deepcopy(encoder), source=queue, out_dim=D, p=p, momentum=momentum,
                           l2_weight=l2_weight, **options)
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


class BatchNormEncoder(nn.Module):
    """Inputs [B, 4], features [B, 6], with a BatchNorm: a joint and a per-view forward differ."""

    feature_dim = 6

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())

    def forward(self, x):
        return self.net(x)


def authors_loss(obj, views, flips, queue_keys, before_loss=False, sum_of_view_means=False, per_view=False):
    """Eq. 20 anchor by anchor through ``obj``'s networks (the momentum ones as the step left them), with grad.

    Each flag switches one aspect to what the authors' code does: ``before_loss``
    puts the batch's momentum keys in the queue before the loss;
    ``sum_of_view_means`` adds the two views' means of the inference network's
    term; ``per_view`` calls every network once per view.
    """
    x1, x2 = views

    def encode(encoder):
        return torch.cat([encoder(x1), encoder(x2)]) if per_view else encoder(torch.cat([x1, x2]))

    with torch.no_grad():
        h_hat = encode(obj.encoder_momentum)
        v = torch.tanh(obj.head_momentum(h_hat) / math.sqrt(D))
        r_hat = obj.inference_momentum(h_hat) / math.sqrt(D)
    h = encode(obj.encoder)
    z = torch.tanh(obj.head(h) / math.sqrt(D))
    r = obj.inference(h.detach()) / math.sqrt(D)
    keys = torch.cat([queue_keys, v]) if before_loss else queue_keys
    beta = 0.5 * math.log((1 - obj.p) / obj.p)
    n = z.shape[0]
    b = n // 2

    def log_q(code, logits):
        return 0.5 * (code * logits + torch.log(torch.sigmoid(logits) * torch.sigmoid(-logits))).sum()

    main, fit = 0.0, []
    for i in range(n):
        other = (i + b) % n
        zt = flips[i] * z[i]
        negatives = torch.log(sum(torch.exp(beta * (zt @ keys[k])) for k in range(keys.shape[0])))
        main = main + negatives - log_q(zt, r_hat[other]) + obj.l2_weight * (z[i] ** 2).sum()
        fit.append(log_q(zt.detach(), r[other]))
    fit_term = sum(fit[:b]) / b + sum(fit[b:]) / b if sum_of_view_means else sum(fit) / n
    return main / n - fit_term


def trainable(obj):
    return [prm for prm in obj.parameters() if prm.requires_grad]


def run_step(encoder, two_views, **options):
    """One step from a queue holding 5 keys, with fixed flips: (obj, queue before, loss, grads)."""
    views, index = two_views
    obj, queue = make(encoder, p=0.2, **options)
    queue.update(torch.tanh(torch.randn(5, D, generator=torch.Generator().manual_seed(4)) * 2))
    before = queue.pool()[0].clone()
    flips = torch.where(torch.rand(6, D, generator=torch.Generator().manual_seed(2)) < 0.25, -1.0, 1.0)
    obj.channel.sample = lambda shape, device=None: flips.clone()
    loss, metrics = obj.step(views, index)
    return obj, before, flips, loss, torch.autograd.grad(loss, trainable(obj)), metrics


def grads_of(loss, obj):
    return torch.autograd.grad(loss, trainable(obj))


def close(a, b):
    return all(torch.allclose(x, y, atol=1e-6, rtol=1e-4) for x, y in zip(a, b))


def test_enqueue_before_loss_reproduces_the_authors_order(tiny_encoder, two_views):
    views = two_views[0]
    obj, before, flips, loss, grads, metrics = run_step(tiny_encoder, two_views, enqueue="before_loss")
    theirs = authors_loss(obj, views, flips, before, before_loss=True)
    assert loss.item() == pytest.approx(theirs.item(), abs=1e-5)
    assert close(grads, grads_of(theirs, obj))
    assert metrics["negatives_count"] == 5 + 6  # the queue and the batch's own 2B momentum keys
    default, before_d, _, loss_d, grads_d, metrics_d = run_step(tiny_encoder, two_views)
    ours = authors_loss(default, views, flips, before_d)
    assert loss_d.item() == pytest.approx(ours.item(), abs=1e-5) and close(grads_d, grads_of(ours, default))
    assert metrics_d["negatives_count"] == 5
    assert abs(loss_d.item() - theirs.item()) > 1e-2 and not close(grads_d, grads)
    assert torch.equal(obj.source.keys, default.source.keys)  # the same keys end up queued either way


def test_variational_sum_of_view_means_doubles_only_the_inference_gradient(tiny_encoder, two_views):
    views = two_views[0]
    obj, before, flips, loss, grads, _ = run_step(tiny_encoder, two_views, variational_reduction="sum_of_view_means")
    theirs = authors_loss(obj, views, flips, before, sum_of_view_means=True)
    assert loss.item() == pytest.approx(theirs.item(), abs=1e-5)
    assert close(grads, grads_of(theirs, obj))
    default, _, _, loss_d, grads_d, _ = run_step(tiny_encoder, two_views)
    names = [name for name, prm in obj.named_parameters() if prm.requires_grad]
    for name, ours_g, theirs_g in zip(names, grads_d, grads):
        if name.startswith("inference."):
            assert torch.allclose(2 * ours_g, theirs_g, atol=1e-7) and theirs_g.abs().sum() > 0
        else:  # the term trains phi only
            assert torch.allclose(ours_g, theirs_g, atol=1e-7)
    assert abs(loss_d.item() - theirs.item()) > 1e-2


def test_forward_views_per_view_reproduces_the_authors_batch_statistics(two_views):
    views = [two_views[0][0], 3 * two_views[0][1] + 1]  # views with different statistics, as strong augmentations give
    two_views = (views, two_views[1])
    encoder = BatchNormEncoder()
    obj, before, flips, loss, grads, _ = run_step(encoder, two_views, forward_views="per_view")
    theirs = authors_loss(obj, views, flips, before, per_view=True)
    assert loss.item() == pytest.approx(theirs.item(), abs=1e-5)
    assert close(grads, grads_of(theirs, obj))
    default, before_d, _, loss_d, grads_d, _ = run_step(encoder, two_views)
    ours = authors_loss(default, views, flips, before_d)
    assert loss_d.item() == pytest.approx(ours.item(), abs=1e-5) and close(grads_d, grads_of(ours, default))
    assert abs(loss_d.item() - theirs.item()) > 1e-2 and not close(grads_d, grads)


def test_all_three_options_together_are_the_authors_step(two_views):
    views = two_views[0]
    obj, before, flips, loss, grads, _ = run_step(
        BatchNormEncoder(), two_views, enqueue="before_loss", variational_reduction="sum_of_view_means",
        forward_views="per_view")
    theirs = authors_loss(obj, views, flips, before, before_loss=True, sum_of_view_means=True, per_view=True)
    assert loss.item() == pytest.approx(theirs.item(), abs=1e-5)
    assert close(grads, grads_of(theirs, obj))


@pytest.mark.parametrize(("option", "message"), [({"enqueue": "later"}, "^enqueue must"),
                                                 ({"variational_reduction": "sum"}, "^variational_reduction must"),
                                                 ({"forward_views": "both"}, "^forward_views must")])
def test_invalid_options_raise(tiny_encoder, option, message):
    with pytest.raises(ValueError, match=message):
        NACMomentumQueue(encoder=tiny_encoder, source=KeyQueue(size=4, dim=D), out_dim=D, **option)
