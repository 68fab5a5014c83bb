"""The parts of a hash-retrieval split as a dataset: train on exactly the protocol's training subset.

NAC paper, Section 4.3 (CIFAR-10, following DistillHash / SSDH): the training
and test images are pooled (60,000), 1,000 per class are the queries, the
other 50,000 the retrieval database, and 500 per class *of the database*
(5,000) train the encoder. :class:`~ssl_eval.hash_retrieval.HashRetrieval`
draws that split at evaluation time; this wrapper draws the same one, with the
same function on the same pooled labels, so that a pipeline can train on it::

    data:
      dataset: retrieval_subset
      params: {dataset: cifar10, params: {root: data}, queries_per_class: 1000, train_per_class: 500, seed: 0}
    evaluate:
      - name: hash_retrieval
        params: {protocol: per_class, queries_per_class: 1000, train_per_class: 500, seed: 0}
        data: {dataset: cifar10, params: {root: data}}

With the same inner dataset, parameters, ``pool_splits`` and seed, the
wrapper's ``train`` split is exactly the evaluator's training subset, a subset
of its database and disjoint from its queries.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from ssl_core.params import literal_choices
from ssl_eval.hash_retrieval import random_retrieval_split, retrieval_split

SPLITS = ("train", "test", "query", "database", "all")


def pool_labels(dataset: Dataset) -> np.ndarray:
    """Every item's label: the dataset's ``targets`` (read without decoding) or, lacking it, each item's label."""
    targets = getattr(dataset, "targets", None)
    if targets is not None and len(targets) == len(dataset):
        return np.asarray(targets)
    return np.stack([np.asarray(torch.as_tensor(dataset[i][1])) for i in range(len(dataset))])


class RetrievalSubset(Dataset):
    """Items of a pooled dataset at given positions; ``targets``, ``num_classes`` and ``classes`` carried over."""

    def __init__(self, pool: Dataset, labels: np.ndarray, positions: np.ndarray, num_classes: int | None,
                 classes: list | None, description: str):
        self.pool = pool
        self.positions = np.asarray(positions, dtype=np.int64)
        self.targets = [int(t) for t in labels[self.positions]] if labels.ndim == 1 else labels[self.positions]
        self.num_classes = num_classes
        if classes is not None:
            self.classes = classes
        self.description = description

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int):
        return self.pool[int(self.positions[i])]

    def __repr__(self) -> str:
        return f"RetrievalSubset({self.description}, {len(self)} items)"


def retrieval_subset(dataset: str, params: dict | None = None, split: Literal["train", "test", "query", "database", "all"] = "train",
                     protocol: Literal["per_class", "random"] = "per_class", queries_per_class: int = 1000,
                     train_per_class: int = 500, num_queries: int = 2000, num_train: int = 5000,
                     pool_splits: tuple[str, ...] = ("train", "test"), seed: int = 0, registry=None) -> RetrievalSubset:
    """One part of the seeded retrieval split of ``dataset``'s pooled splits (NAC paper, Section 4.3).

    The pool is the concatenation of ``pool_splits`` of ``dataset`` (built
    with ``params``), in that order, as ``hash_retrieval`` pools them; the
    split is :func:`~ssl_eval.hash_retrieval.retrieval_split` (``per_class``,
    CIFAR-10) or :func:`~ssl_eval.hash_retrieval.random_retrieval_split`
    (``random``, FLICKR-25K) with ``seed``.

    Args:
        dataset: the registered dataset pooled (e.g. ``cifar10``, ``image_folder``).
        params: its parameters (without ``split``).
        split: ``train`` (the training subset, within the database), ``query``
            (also ``test``: held out, never trained on), ``database`` or
            ``all`` (the whole pool) (context).
        protocol: ``per_class`` or ``random``, as ``hash_retrieval``'s.
        queries_per_class: queries per class (per_class; 1,000 in the paper).
        train_per_class: training items per class of the database (per_class; 500).
        num_queries: queries (random; 2,000 for FLICKR-25K).
        num_train: training items of the database (random; 5,000).
        pool_splits: the splits of ``dataset`` pooled, in order.
        seed: seed of the split; the evaluator's ``seed`` must equal it.
        registry: the registry that builds ``dataset`` (context).

    Raises:
        ValueError: naming the parameter, for an unknown split or pool split,
            or a class too small for the per-class counts.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if protocol not in ("per_class", "random"):
        raise ValueError(f"protocol must be per_class or random, got {protocol!r}")
    if not pool_splits:
        raise ValueError("pool_splits must name at least one split of the dataset")
    if registry is None:
        import ssl_core

        registry = ssl_core.registry()
    inner = registry.get("dataset", dataset).factory
    valid = literal_choices(inner, "split")
    for s in pool_splits:
        if valid is not None and s not in valid:
            raise ValueError(f"pool_splits: '{s}' is not a split of the dataset '{dataset}'; valid choices: "
                             f"{', '.join(valid)}")
    parts = [registry.build("dataset", dataset, params or {}, split=s) for s in pool_splits]
    labels = np.concatenate([pool_labels(p) for p in parts])
    try:
        if protocol == "per_class":
            query, database, train = retrieval_split(labels, queries_per_class, train_per_class, seed)
        else:
            query, database, train = random_retrieval_split(len(labels), num_queries, num_train, seed)
    except ValueError as exc:  # named after the count parameters, so the pipeline file's line is found
        key = "queries_per_class" if protocol == "per_class" else "num_queries"
        raise ValueError(f"{key}: {exc} (pool: {' + '.join(pool_splits)} of '{dataset}', {len(labels)} items)") from None
    positions = {"train": train, "test": query, "query": query, "database": database, "all": np.arange(len(labels))}
    pool = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    num_classes = getattr(parts[0], "num_classes", None)
    return RetrievalSubset(pool, labels, positions[split], num_classes, getattr(parts[0], "classes", None),
                           f"{split} of the {protocol} retrieval split of {dataset} {'+'.join(pool_splits)}, seed {seed}")


retrieval_subset.wraps_dataset = {"name": "dataset", "params": "params", "splits": "pool_splits"}
"""For the pipeline file's validation: which parameters name the wrapped dataset, its params and its splits."""
