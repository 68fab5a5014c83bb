"""SimCLR's loss equals lightly's NT-Xent and a direct loop over Eq. 21."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss
from torch import nn

from ssl_contrastive.in_batch import InBatchNegatives
from ssl_contrastive.simclr import SimCLR


class Flat(nn.Module):
    feature_dim = 12

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(12, 12)

    def forward(self, x):
        return self.linear(x)


def objective(temperature=0.5, **options):
    torch.manual_seed(0)
    return SimCLR(temperature=temperature, out_dim=8, hidden_dim=16, encoder=Flat(), source=InBatchNegatives(),
                  **options).eval()


def views(batch=6):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(batch, 12, generator=g), torch.randn(batch, 12, generator=g)]


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_equals_lightly_nt_xent(temperature):
    model = objective(temperature)
    v = views()
    loss, metrics = model.step(v, torch.arange(6))
    expected = NTXentLoss(temperature=temperature)(model.embed(v[0]), model.embed(v[1]))
    assert torch.allclose(loss, expected, atol=1e-6)
    assert metrics["negatives_per_anchor"] == 10  # 2B - 2


def test_equals_a_direct_loop_over_eq_21():
    model = objective(0.5)
    v = views(4)
    loss, _ = model.step(v, torch.arange(4))
    u = F.normalize(torch.cat([model.embed(v[0]), model.embed(v[1])]), dim=1).tolist()
    n, total = len(u), 0.0
    for i in range(n):
        partner = (i + n // 2) % n
        dot = lambda a, b: sum(x * y for x, y in zip(u[a], u[b])) / 0.5
        denominator = sum(math.exp(dot(i, k)) for k in range(n) if k != i)
        total += -(dot(i, partner) - math.log(denominator))
    assert loss.item() == pytest.approx(total / n, abs=1e-5)


def direct_loss(u, t):
    """Eq. 21 by a loop over the 2B l2-normalised embeddings ``u`` (lists), both directions."""
    n, total = len(u), 0.0
    for i in range(n):
        partner = (i + n // 2) % n
        dot = lambda a, b: sum(x * y for x, y in zip(u[a], u[b])) / t  # noqa: E731
        denominator = sum(math.exp(dot(i, k)) for k in range(n) if k != i)
        total += -(dot(i, partner) - math.log(denominator))
    return total / n


def test_forward_views_per_view_reproduces_the_authors_batch_statistics():
    v = views(4)
    v[1] = 3 * v[1] + 1  # views with different statistics, as strong augmentations give
    losses = {}
    for forward_views in ("joint", "per_view"):
        model = objective(0.5, forward_views=forward_views).train()  # the head's BatchNorm uses batch statistics
        losses[forward_views], _ = model.step(v, torch.arange(4))
    with torch.no_grad():  # the same seeded weights: the authors' one call per view, and one joint call
        theirs = direct_loss(F.normalize(torch.cat([model.embed(v[0]), model.embed(v[1])])).tolist(), 0.5)
        ours = direct_loss(F.normalize(model.embed(torch.cat(v))).tolist(), 0.5)
    assert losses["per_view"].item() == pytest.approx(theirs, abs=1e-5)
    assert losses["joint"].item() == pytest.approx(ours, abs=1e-5)
    assert abs(ours - theirs) > 1e-3  # 100 times the tolerance: the option changes the loss
    with pytest.raises(ValueError, match="^forward_views must"):
        objective(forward_views="both")


def test_two_views_required():
    with pytest.raises(ValueError, match="exactly 2 views"):
        objective().step(views() + views()[:1], torch.arange(6))
