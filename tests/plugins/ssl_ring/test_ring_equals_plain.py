"""With l = 0 and u = 100 every Ring objective is exactly its plain objective (CNCE paper, Sec. 4: "u = 100 recovers NCE")."""

from __future__ import annotations

import copy

import pytest
import torch

from ssl_contrastive.cmc import CMC
from ssl_contrastive.in_batch import InBatchNegatives
from ssl_contrastive.ir import IR
from ssl_contrastive.memory_bank import MemoryBank
from ssl_contrastive.moco import MoCo
from ssl_contrastive.queue import KeyQueue
from ssl_contrastive.simclr import SimCLR
from ssl_encoders.small_cnn import SmallCNN
from ssl_ring.ring_selector import RingSelector


def build(name):
    encoder = SmallCNN(width=2)
    if name == "ir":
        return IR(out_dim=4, encoder=encoder, source=MemoryBank(k=6, dim=4, num_examples=10))
    if name == "cmc":
        return CMC(out_dim=4, encoder=encoder, source=MemoryBank(k=6, dim=4, num_examples=10))
    if name == "moco":
        moco = MoCo(out_dim=4, hidden_dim=8, encoder=encoder, source=KeyQueue(size=12, dim=4))
        moco.source.update(torch.nn.functional.normalize(torch.randn(9, 4), dim=1))
        return moco
    return SimCLR(out_dim=4, hidden_dim=8, encoder=encoder, source=InBatchNegatives())


@pytest.mark.parametrize("name", ["ir", "cmc", "moco", "simclr"])
def test_whole_band_ring_loss_equals_plain_loss(name):
    torch.manual_seed(0)
    plain = build(name)
    ringed = copy.deepcopy(plain)
    ringed.selector = RingSelector(l=0, u=100, schedule="none")
    gen = torch.Generator().manual_seed(1)
    views = [torch.randn(4, 3, 8, 8, generator=gen) for _ in range(2)]
    index = torch.tensor([1, 4, 6, 9])
    for step in range(2):  # the second step runs on updated banks / queues
        torch.manual_seed(10 + step)
        loss_plain, _ = plain.step(views, index)
        torch.manual_seed(10 + step)
        loss_ring, _ = ringed.step(views, index)
        assert torch.equal(loss_plain, loss_ring), (name, step)


@pytest.mark.parametrize("name", ["ir", "moco", "simclr"])
def test_a_narrow_ring_changes_the_loss(name):
    torch.manual_seed(0)
    plain = build(name)
    ringed = copy.deepcopy(plain)
    ringed.selector = RingSelector(l=0, u=30, schedule="none")
    views = [torch.randn(4, 3, 8, 8) for _ in range(2)]
    torch.manual_seed(3)
    loss_plain, _ = plain.step(views, torch.tensor([1, 4, 6, 9]))
    torch.manual_seed(3)
    loss_ring, _ = ringed.step(views, torch.tensor([1, 4, 6, 9]))
    assert not torch.equal(loss_plain, loss_ring)
