"""A tiny, fully known evaluation setting: Gaussian blobs, identity views, a linear encoder."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from ssl_core import hookimpl, make_registry
from ssl_core.eval_context import EvalContext
from ssl_core.suite import SuiteTask


class Blobs(Dataset):
    """Four well separated 2-D Gaussian blobs; train and test drawn with different seeds."""

    num_classes = 4

    def __init__(self, split: str = "train", n: int = 200, missing: bool = False):
        if missing:
            raise FileNotFoundError("blobs not found at /nowhere/blobs; pass root=")
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        self.y = torch.arange(n) % 4
        centres = torch.tensor([[3.0, 3.0], [-3.0, 3.0], [3.0, -3.0], [-3.0, -3.0]])
        self.x = centres[self.y] + torch.randn(n, 2, generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


class IdentityViews:
    n_views = 2

    def train(self, x):
        return x

    def eval(self, x):
        return x


class LinearEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 8)
        self.feature_dim = 8

    def forward_features(self, x):
        return torch.relu(self.linear(x))[:, :, None, None]

    def pool(self, fmap):
        return fmap.flatten(1)

    def forward(self, x):
        return self.pool(self.forward_features(x))


class BlobsPlugin:
    @hookimpl
    def ssl_core_datasets(self):
        return {"blobs": Blobs}

    @hookimpl
    def ssl_core_views(self):
        return {"identity": IdentityViews}

    @hookimpl
    def ssl_core_suites(self):
        return {"blobs_suite": lambda: [SuiteTask("blobs", "blobs", {"n": 100}),
                                         SuiteTask("absent blobs", "blobs", {"missing": True})]}


def blobs_context(tmp_path: Path) -> EvalContext:
    torch.manual_seed(0)
    registry = make_registry(plugins=[BlobsPlugin()], autoload=False, warn=False)
    return EvalContext(encoder=LinearEncoder().eval(), registry=registry, dataset="blobs", dataset_params={},
                       views=IdentityViews(), run_dir=tmp_path, batch_size=64)
