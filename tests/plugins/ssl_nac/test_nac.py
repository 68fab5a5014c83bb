"""The NAC objective: Eq. 19 through the real networks with fixed flips, selector, options, registry."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_contrastive.in_batch import InBatchNegatives
from ssl_core import make_registry
from ssl_core.errors import ParamError
from ssl_nac.nac import NAC

D = 4


def fixed_flips(obj, flips):
    obj.channel.sample = lambda shape, device=None: flips.clone()


def flips_for(n, seed=2):
    gen = torch.Generator().manual_seed(seed)
    return torch.where(torch.rand(n, D, generator=gen) < 0.25, -1.0, 1.0)


def direct_loss(obj, views, flips, keep_fn=None, per_view=False):
    """Eq. 19 with loops over anchors and keys, from the objective's own networks (``per_view``: one call per view)."""
    x = torch.cat(views)
    with torch.no_grad():
        h = torch.cat([obj.encoder(v) for v in views]) if per_view else obj.encoder(x)
        a = obj.head(h) / math.sqrt(D)
        r = obj.inference(h) / math.sqrt(D)
    z = torch.tanh(a).double()
    r = r.double()
    n = z.shape[0]
    beta = 0.5 * math.log((1 - obj.p) / obj.p)
    total = 0.0
    for i in range(n):
        other = (i + n // 2) % n
        zt = flips[i].double() * z[i]
        pos = 0.5 * float((zt * r[other] + torch.log(torch.sigmoid(r[other]) * (1 - torch.sigmoid(r[other])))).sum())
        ks = range(n) if keep_fn is None else keep_fn(i, zt, z)
        total += math.log(sum(math.exp(beta * float(zt @ z[k])) for k in ks)) - pos
    return total / n


def test_step_equals_eq19_with_fixed_flips(tiny_encoder, two_views):
    views, index = two_views
    obj = NAC(encoder=tiny_encoder, source=InBatchNegatives(), out_dim=D, p=0.2)
    flips = flips_for(6)
    fixed_flips(obj, flips)
    loss, metrics = obj.step(views, index)
    assert loss.item() == pytest.approx(direct_loss(obj, views, flips), abs=1e-5)
    assert "loss" not in metrics  # the trainer logs the loss itself
    assert metrics["negatives_count"] == 6.0  # self and partner kept, as Eq. 19 and the reference
    assert set(metrics) >= {"mi_bound", "positive", "negatives", "flip_rate", "distinct_codes_fraction"}
    loss.backward()
    assert tiny_encoder.net[0].weight.grad is not None
    assert all(p.grad is not None for p in obj.inference.parameters())
    assert all(p.grad is not None for p in obj.head.parameters())


def test_mask_self_partner_leaves_them_out(tiny_encoder, two_views):
    views, index = two_views
    obj = NAC(encoder=tiny_encoder, out_dim=D, p=0.2, mask_self_partner=True)  # no source: same mask built in
    flips = flips_for(6)
    fixed_flips(obj, flips)
    loss, metrics = obj.step(views, index)
    others = lambda i, zt, z: [k for k in range(6) if k % 3 != i % 3]  # noqa: E731
    assert loss.item() == pytest.approx(direct_loss(obj, views, flips, others), abs=1e-5)
    assert metrics["negatives_count"] == 4.0


class NearestOne:
    """A stand-in selector: keeps, per anchor, the single most similar valid entry."""

    def select(self, sim, valid):
        scores = sim.masked_fill(~valid, float("-inf"))
        keep = torch.zeros_like(valid)
        keep[torch.arange(sim.shape[0]), scores.argmax(dim=1)] = True
        return keep


@pytest.mark.parametrize("mask_self_partner", [False, True])
def test_selector_restricts_negatives_ranked_by_flipped_code(tiny_encoder, two_views, mask_self_partner):
    views, index = two_views
    obj = NAC(encoder=tiny_encoder, source=InBatchNegatives(), selector=NearestOne(), out_dim=D, p=0.3,
              mask_self_partner=mask_self_partner)
    flips = flips_for(6, seed=5)
    fixed_flips(obj, flips)
    loss, _ = obj.step(views, index)

    def ring(i, zt, z):
        others = [k for k in range(6) if k % 3 != i % 3]
        nearest = max(others, key=lambda k: float(zt @ z[k]))
        return [nearest] if mask_self_partner else [nearest, i, (i + 3) % 6]

    assert loss.item() == pytest.approx(direct_loss(obj, views, flips, ring), abs=1e-5)


class BatchNormEncoder(torch.nn.Module):
    feature_dim = 6

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU())

    def forward(self, x):
        return self.net(x)


def test_forward_views_per_view_reproduces_the_authors_batch_statistics(two_views):
    (x1, x2), index = two_views
    views = [x1, 3 * x2 + 1]  # views with different statistics, as strong augmentations give
    flips = flips_for(6)
    losses = {}
    for forward_views in ("joint", "per_view"):
        obj = NAC(encoder=BatchNormEncoder(), source=InBatchNegatives(), out_dim=D, p=0.2, forward_views=forward_views)
        fixed_flips(obj, flips)
        losses[forward_views], _ = obj.step(views, index)
        # the direct loop, with the authors' one call per view, and with ours
        theirs, ours = direct_loss(obj, views, flips, per_view=True), direct_loss(obj, views, flips)
    assert losses["per_view"].item() == pytest.approx(theirs, abs=1e-5)
    assert losses["joint"].item() == pytest.approx(ours, abs=1e-5)
    assert abs(ours - theirs) > 1e-3  # 100 times the tolerance above
    with pytest.raises(ValueError, match="^forward_views must"):
        NAC(encoder=BatchNormEncoder(), out_dim=D, forward_views="both")


def test_embed_is_scaled_pre_activation_and_option_off(tiny_encoder):
    x = torch.randn(5, 4)
    on = NAC(encoder=tiny_encoder, out_dim=D)
    off = NAC(encoder=tiny_encoder, out_dim=D, scale_by_sqrt_dim=False)
    off.head.load_state_dict(on.head.state_dict())
    assert torch.allclose(on.embed(x) * 2.0, off.embed(x))  # sqrt(4) = 2
    assert torch.equal(on.embed(x) > 0, off.embed(x) > 0)


def test_needs_two_views_and_valid_params(tiny_encoder, two_views):
    views, index = two_views
    obj = NAC(encoder=tiny_encoder, out_dim=D)
    with pytest.raises(ValueError, match="exactly 2 views"):
        obj.step(views + views[:1], index)
    with pytest.raises(ValueError, match="p must lie"):
        NAC(encoder=tiny_encoder, p=0.5)
    with pytest.raises(ValueError, match="out_dim"):
        NAC(encoder=tiny_encoder, out_dim=0)


def test_registered_with_sources_and_params(tiny_encoder):
    registry = make_registry(autoload=False, warn=False)
    nac = registry.get("objective", "nac")
    assert nac.factory.sources == ("in_batch",)
    assert registry.get("objective", "nac_mq").factory.sources == ("queue",)
    names = {p.name for p in nac.params()}
    assert {"out_dim", "p", "hidden_dim", "scale_by_sqrt_dim", "mask_self_partner", "forward_views"} <= names
    assert not names & {"encoder", "source", "selector", "num_examples"}
    with pytest.raises(ParamError, match="p must lie"):
        registry.build("objective", "nac", {"p": 0.6}, encoder=tiny_encoder, source=None, selector=None, num_examples=3)
