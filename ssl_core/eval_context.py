"""What an evaluator is given: the frozen encoder, the data, and cached features."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

Layer = Literal["pooled", "prepool", "embedding"]


class TransformedDataset(Dataset):
    """Items ``(transform(x), label)`` of a dataset of ``(x, label)``."""

    def __init__(self, base: Dataset, transform: Callable):
        self.base = base
        self.transform = transform
        self.num_classes = getattr(base, "num_classes", None)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, label = self.base[i]
        return self.transform(x), label


@torch.no_grad()
def encode(encoder: nn.Module, loader: DataLoader, layer: Layer = "pooled", objective: nn.Module | None = None,
           device: str = "cpu") -> tuple[Tensor, Tensor]:
    """Features of every item of ``loader`` at ``layer`` (encoder in eval mode), with labels."""
    was_training = encoder.training
    encoder.eval()
    if objective is not None:
        objective.eval()
    feats, labels = [], []
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        if layer == "pooled":
            f = encoder(x)
        elif layer == "prepool":
            f = encoder.forward_features(x).flatten(1)
        elif layer == "embedding":
            if objective is None:
                raise ValueError("layer 'embedding' needs the trained objective (its projection head)")
            f = objective.embed(x)
        else:
            raise ValueError(f"unknown layer '{layer}'; valid choices: pooled, prepool, embedding")
        feats.append(f.float().cpu())
        labels.append(torch.as_tensor(y))
    encoder.train(was_training)
    return torch.cat(feats), torch.cat(labels)


@dataclass
class EvalContext:
    """Everything an evaluator may use; it must never train ``encoder``.

    ``split()`` gives a dataset of ``(tensor, label)`` for the context's data
    (or another registered dataset, for transfer), ``features()`` the frozen
    features of a split at a layer, computed once and cached. The context's
    data (``dataset``, ``dataset_params``) is the pipeline's training data, or
    the evaluator's own when its ``evaluate:`` entry has a ``data:`` key
    (:meth:`with_data`).
    """

    encoder: nn.Module
    registry: Any
    dataset: str
    dataset_params: dict
    views: Any
    run_dir: Path
    objective: nn.Module | None = None
    seed: int = 0
    batch_size: int = 256
    num_workers: int = 0
    device: Any = "cpu"
    """Where the encoder is and evaluators compute (a ``torch.device`` or its name); features are cached on the CPU."""
    encoder_label: str = "pretrained"
    """Which encoder this is (``"pretrained"``, ``"random init"``): evaluators name their own files after it."""
    _cache: dict = field(default_factory=dict, repr=False)

    def with_data(self, dataset: str, params: dict) -> "EvalContext":
        """This context with ``dataset`` and ``params`` as its data (the feature cache is shared: keys name the data)."""
        return replace(self, dataset=dataset, dataset_params=dict(params))

    def resolve(self, dataset: str | None, params: dict | None) -> tuple[str, dict]:
        """``(dataset, params)``: the ones given, or the context's own when ``dataset`` is ``None``."""
        return (self.dataset, self.dataset_params) if dataset is None else (dataset, params or {})

    def raw_split(self, split: str, dataset: str | None = None, params: dict | None = None) -> Dataset:
        """The dataset of raw ``(x, label)`` items for ``split``."""
        name, params = self.resolve(dataset, params)
        return self.registry.build("dataset", name, params, split=split)

    def split(self, split: str, transform: Literal["eval", "train"] = "eval", dataset: str | None = None,
              params: dict | None = None, views: Any = None) -> TransformedDataset:
        """``split`` with the eval (deterministic) or train (augmenting) transform of ``views``."""
        views = views or self.views
        return TransformedDataset(self.raw_split(split, dataset, params), getattr(views, transform))

    def loader(self, data: Dataset, shuffle: bool = False, seed: int | None = None) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed if seed is None else seed)
        return DataLoader(data, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          generator=generator, pin_memory=torch.device(self.device).type == "cuda")

    def features(self, split: str, layer: Layer = "pooled", dataset: str | None = None, params: dict | None = None,
                 views: Any = None) -> tuple[Tensor, Tensor]:
        """Frozen features and labels of ``split`` at ``layer`` (eval transform), cached per key."""
        name, resolved = self.resolve(dataset, params)
        key = (split, layer, name, repr(sorted(resolved.items())), id(views))
        if key not in self._cache:
            data = self.split(split, "eval", dataset, params, views)
            feats, labels = encode(self.encoder, self.loader(data), layer, self.objective, self.device)
            check_labels(labels, data.num_classes, f"dataset '{dataset or self.dataset}' ({split} split)")
            self._cache[key] = feats, labels
        return self._cache[key]


def check_labels(labels: Tensor, num_classes: int | None, what: str) -> None:
    """Class-index labels must lie in ``[0, num_classes)``: evaluators size their outputs by it.

    Raises:
        ValueError: naming the dataset, the first offending item and its label.
    """
    if num_classes is None or labels.dim() != 1 or len(labels) == 0:
        return  # multi-hot label vectors (retrieval) or no declared class count
    bad = ((labels < 0) | (labels >= num_classes)).nonzero().flatten()
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{what}: item {i} has label {labels[i].item()}, outside [0, {num_classes}) (num_classes = "
                         f"{num_classes}); {len(bad)} item(s) in all. Fix the dataset's labels or its num_classes.")
