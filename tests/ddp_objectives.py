"""Objectives for the distributed equivalence test (importable by spawned processes)."""

from __future__ import annotations

from lightly.models.modules.heads import SimCLRProjectionHead
from torch import nn

from ssl_contrastive.in_batch import InBatchNegatives
from ssl_contrastive.simclr import SimCLR


class MLPEncoder(nn.Module):
    """No BatchNorm: per-process batch statistics are a separate matter (SyncBatchNorm, train.sync_batchnorm)."""

    feature_dim = 16

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16))

    def forward(self, x):
        return self.net(x)


def make_simclr():
    objective = SimCLR(temperature=0.5, out_dim=8, hidden_dim=16, encoder=MLPEncoder(), source=InBatchNegatives())
    objective.head = SimCLRProjectionHead(16, 16, 8, batch_norm=False)
    return objective


CASES = {
    "simclr": make_simclr,
}


def make_moco():
    from ssl_contrastive.moco import MoCo
    from ssl_contrastive.queue import KeyQueue

    return MoCo(out_dim=8, hidden_dim=16, momentum=0.9, encoder=MLPEncoder(), source=KeyQueue(size=64, dim=8))


def make_ir():
    from ssl_contrastive.ir import IR
    from ssl_contrastive.memory_bank import MemoryBank

    return IR(out_dim=8, encoder=MLPEncoder(), source=MemoryBank(k=32, momentum=0.5, dim=8, num_examples=1000),
              num_examples=1000)


def make_iring():
    from ssl_ring.ring_selector import RingSelector

    objective = make_ir()
    objective.selector = RingSelector(steps_per_epoch=10, max_epochs=10, anneal_epochs=1)
    objective.selector.set_step(100)  # annealed: the band is l = 1, u = 10
    return objective


def make_nac():
    from ssl_nac.nac import NAC

    return NAC(encoder=MLPEncoder(), source=InBatchNegatives(), out_dim=8, p=0.2)


CASES.update({"moco": make_moco, "ir": make_ir, "iring": make_iring, "nac": make_nac})
