"""Weighted k-nearest-neighbour classification of frozen features (Wu et al., 2018)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_core.eval_context import EvalContext


def weighted_knn_scores(train: Tensor, train_labels: Tensor, test: Tensor, n_classes: int, k: int,
                        temperature: float, chunk: int = 1024) -> Tensor:
    """Class scores ``[N_test, C]``: sum over the k most cosine-similar training items of ``exp(sim / t)``.

    Computed on the inputs' device (the evaluation device: the harness moves the features there).
    """
    train = F.normalize(train, dim=1)
    test = F.normalize(test, dim=1)
    k = min(k, len(train))
    scores = []
    for start in range(0, len(test), chunk):
        sim, idx = (test[start : start + chunk] @ train.T).topk(k, dim=1)
        votes = torch.zeros(len(sim), n_classes, device=sim.device)
        votes.scatter_add_(1, train_labels[idx], (sim / temperature).exp())
        scores.append(votes)
    return torch.cat(scores)


class KNN:
    """Weighted kNN on l2-normalised features: each of the k nearest training
    items votes for its class with weight ``exp(cos / t)`` (Wu et al., 2018, Eq. 8).

    Args:
        k: neighbours.
        temperature: t of the vote weights.
        layer: which features (see the linear probe).
    """

    def __init__(self, k: int = 200, temperature: float = 0.07,
                 layer: Literal["pooled", "prepool", "embedding"] = "pooled"):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.k, self.temperature, self.layer = k, temperature, layer

    def evaluate(self, ctx: EvalContext) -> dict:
        x, y = (t.to(ctx.device) for t in ctx.features("train", self.layer))
        x_test, y_test = (t.to(ctx.device) for t in ctx.features("test", self.layer))
        n_classes = int(max(y.max(), y_test.max())) + 1
        scores = weighted_knn_scores(x, y, x_test, n_classes, self.k, self.temperature)
        ranked = scores.topk(min(5, n_classes), dim=1).indices
        top1 = (ranked[:, 0] == y_test).float().mean().item()
        top5 = (ranked == y_test[:, None]).any(dim=1).float().mean().item()
        protocol = {"k": min(self.k, len(y)), "temperature": self.temperature, "layer": self.layer,
                    "similarity": "cosine", "vote": "sum of exp(sim / t)", "train_examples": int(len(y))}
        return {"metrics": {"top1": top1, "top5": top5}, "protocol": protocol}
