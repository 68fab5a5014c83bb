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
