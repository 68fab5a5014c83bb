"""A tiny encoder for the NAC tests: inputs [B, 4], features [B, 6]."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class TinyEncoder(nn.Module):
    feature_dim = 6

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 6), nn.ReLU())

    def forward_features(self, x):
        return self.net(x)[:, :, None, None]

    def pool(self, fmap):
        return fmap.flatten(1)

    def forward(self, x):
        return self.pool(self.forward_features(x))


@pytest.fixture
def tiny_encoder():
    torch.manual_seed(0)
    return TinyEncoder()


@pytest.fixture
def two_views():
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(3, 4, generator=gen), torch.randn(3, 4, generator=gen)], torch.tensor([5, 7, 9])
