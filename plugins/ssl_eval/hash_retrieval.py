"""Hash retrieval: mAP of Hamming ranking with the codes ``sign(a)`` (NAC paper, Section 4.3).

Protocols (``protocol``):

- ``"per_class"`` (CIFAR-10, Tables 3): the splits in ``pool_splits``
  (train + test, 60,000 images) are pooled; ``queries_per_class`` (1,000) per
  class are the queries, every other item is the database, and
  ``train_per_class`` (500) per class *of the database* is the subset the
  encoder is trained on (:func:`retrieval_split`). A pipeline trains on
  exactly that subset with the dataset ``retrieval_subset``
  (:mod:`ssl_eval.retrieval_subset`, same split function, parameters and
  seed), and gives this evaluator the whole pool with its ``evaluate:``
  entry's ``data: {dataset: ..., params: {...}}``.
- ``"random"`` (FLICKR-25K, Table 4): ``num_queries`` (2,000) random items of
  the pool are the queries, the rest the database, ``num_train`` (5,000) of
  the database the training subset (:func:`random_retrieval_split`).
- ``"splits"``: two named splits of the dataset are the queries and the
  database (e.g. the ``flickr25k`` dataset's ``query`` and ``database``, or
  test and train as in the paper's sentence "the hash code table is populated
  using the training images and the test images are used as queries").

The precision-recall curve goes to ``hash_retrieval_pr.json`` in the run
folder for the pretrained encoder and to ``hash_retrieval_pr_<encoder>.json``
for any other (``hash_retrieval_pr_random_init.json`` for the random-init
baseline), so the baseline never overwrites the trained curve. The plot
``hash_retrieval_pr.png`` is redrawn after each of them with every curve of
the folder that has the same setting (dataset, protocol, seed, sizes, bits),
the pretrained one first, each labelled with its mAP@all. The encoder's name is
the context's ``encoder_label``.

Every split is drawn with ``numpy.random.default_rng(seed)`` (the reference
code's split was unseeded). Codes are ``sign`` of the objective's ``embed``
(``ctx.features(split, layer="embedding")``), so SimCLR or MoCo codes are
scored the same way; a hit shares the label (single-label) or at least one
label (multi-hot labels). Ranking is by Hamming distance with ties broken by
database index (see :mod:`ssl_eval.mean_average_precision`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ssl_core.atomic_write import atomic_write_text
from ssl_eval.mean_average_precision import hamming_ranking
from ssl_eval.precision_recall import PrecisionRecallCurve, plot_precision_recall, precision_recall_by_radius

PRETRAINED = "pretrained"
"""The harness's name of the trained encoder (``ssl_core.harness.PRETRAINED``)."""
CURVE_STEM = "hash_retrieval_pr"
SETTING_KEYS = ("protocol", "dataset", "dataset_params", "seed", "num_queries", "num_database", "code_bits",
                "pool_splits", "query_split", "database_split")
"""What two curves must share to be drawn in one plot."""


def curve_file(run_dir: str | Path, encoder: str) -> Path:
    """The curve JSON of ``encoder``: ``hash_retrieval_pr.json`` (pretrained) or ``hash_retrieval_pr_<encoder>.json``.

    Args:
        run_dir: the folder the evaluator writes to.
        encoder: the encoder's name, e.g. ``"random init"`` (-> ``hash_retrieval_pr_random_init.json``).
    """
    if encoder == PRETRAINED:
        return Path(run_dir) / f"{CURVE_STEM}.json"
    return Path(run_dir) / f"{CURVE_STEM}_{re.sub(r'[^A-Za-z0-9]+', '_', encoder).strip('_')}.json"


def matching_curves(run_dir: str | Path, setting: dict) -> tuple[dict[str, PrecisionRecallCurve], dict[str, float]]:
    """The curves of ``run_dir`` written with ``setting``, by encoder (pretrained first), and their mAP@all.

    Curve files of another setting (an earlier evaluation of other data or
    parameters), or without one (written before curves named their encoder),
    are left out.
    """
    curves, maps = {}, {}
    for path in sorted(Path(run_dir).glob(f"{CURVE_STEM}*.json")):
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(saved, dict) or saved.get("setting") != setting or "encoder" not in saved:
            continue
        name = saved["encoder"]
        curves[name] = PrecisionRecallCurve(*(np.asarray(saved[k]) for k in ("radius", "precision", "recall")))
        maps[name] = float(saved["map_at_all"])
    order = sorted(curves, key=lambda name: (name != PRETRAINED, name))
    return {name: curves[name] for name in order}, maps


def retrieval_split(labels, queries_per_class: int = 1000, train_per_class: int = 500,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded per-class split: ``(query, database, train)`` index arrays, each sorted.

    For every class (in increasing label order) its items are shuffled; the
    first ``queries_per_class`` are queries, the others database, and the
    first ``train_per_class`` of those the training subset (a subset of the
    database). The same ``labels`` and ``seed`` always give the same split.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"retrieval_split needs one integer label per item, got labels of shape {labels.shape}; "
                         "use random_retrieval_split for multi-label data")
    if queries_per_class < 1 or train_per_class < 0:
        raise ValueError(f"queries_per_class must be >= 1 and train_per_class >= 0, "
                         f"got {queries_per_class}, {train_per_class}")
    rng = np.random.default_rng(seed)
    query, database, train = [], [], []
    for c in np.unique(labels):
        items = rng.permutation(np.flatnonzero(labels == c))
        if len(items) < queries_per_class + train_per_class:
            raise ValueError(f"class {c} has {len(items)} items, fewer than queries_per_class + train_per_class "
                             f"= {queries_per_class + train_per_class}")
        query.append(items[:queries_per_class])
        database.append(items[queries_per_class:])
        train.append(items[queries_per_class:queries_per_class + train_per_class])
    return tuple(np.sort(np.concatenate(part)).astype(np.int64) for part in (query, database, train))


def random_retrieval_split(num_items: int, num_queries: int = 2000, num_train: int = 5000,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random split: ``(query, database, train)`` sorted index arrays, train a subset of database."""
    if num_queries < 1 or num_train < 0 or num_queries + num_train > num_items:
        raise ValueError(f"need 1 <= num_queries and num_queries + num_train <= {num_items} items, "
                         f"got num_queries={num_queries}, num_train={num_train}")
    order = np.random.default_rng(seed).permutation(num_items)
    query, database = order[:num_queries], order[num_queries:]
    train = database[:num_train]
    return tuple(np.sort(part).astype(np.int64) for part in (query, database, train))


class HashRetrieval:
    """mAP@all (and mAP@R) of hash codes ``sign(embed(x))`` by Hamming ranking (Section 4.3).

    Args:
        protocol: ``"per_class"`` (CIFAR-10), ``"random"`` (FLICKR-25K) or
            ``"splits"`` (named query and database splits).
        queries_per_class: queries per class (per_class).
        train_per_class: training items per class of the database (per_class).
        num_queries: queries (random).
        num_train: training items of the database (random).
        pool_splits: the dataset splits pooled before splitting (per_class, random).
        query_split: the split of queries (splits).
        database_split: the split of the database (splits).
        R: cut-off of mAP@R, or ``None`` for mAP@all only.
        seed: seed of the split.
        plot: write the precision-recall curve PNG ``hash_retrieval_pr.png`` into the run folder, with
            the curves of the other encoders evaluated there (its numbers always go to
            ``hash_retrieval_pr.json``, or ``hash_retrieval_pr_<encoder>.json``, there).
    """

    def __init__(self, protocol: Literal["per_class", "random", "splits"] = "per_class", queries_per_class: int = 1000,
                 train_per_class: int = 500, num_queries: int = 2000, num_train: int = 5000,
                 pool_splits: tuple[str, ...] = ("train", "test"), query_split: str = "query",
                 database_split: str = "database", R: int | None = None, seed: int = 0, plot: bool = True):
        if protocol not in ("per_class", "random", "splits"):
            raise ValueError(f"protocol must be one of per_class, random, splits, got {protocol!r}")
        if R is not None and R < 1:
            raise ValueError(f"R must be >= 1 or null, got {R}")
        if queries_per_class < 1 or num_queries < 1:
            raise ValueError(f"queries_per_class and num_queries must be >= 1, got {queries_per_class}, {num_queries}")
        if train_per_class < 0 or num_train < 0:
            raise ValueError(f"train_per_class and num_train must be >= 0, got {train_per_class}, {num_train}")
        if not pool_splits:
            raise ValueError("pool_splits must name at least one split")
        self.protocol = protocol
        self.queries_per_class, self.train_per_class = queries_per_class, train_per_class
        self.num_queries, self.num_train = num_queries, num_train
        self.pool_splits = list(pool_splits)
        self.query_split, self.database_split = query_split, database_split
        self.R, self.seed, self.plot = R, seed, plot

    def codes(self, ctx) -> tuple[torch.Tensor, np.ndarray, torch.Tensor, np.ndarray, dict]:
        """Query codes, query labels, database codes, database labels, and the split's description."""
        if self.protocol == "splits":
            q, ql = ctx.features(self.query_split, layer="embedding")
            d, dl = ctx.features(self.database_split, layer="embedding")
            split = {"query_split": self.query_split, "database_split": self.database_split}
            return q, ql.numpy(), d, dl.numpy(), split
        parts = [ctx.features(s, layer="embedding") for s in self.pool_splits]
        feats, labels = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]).numpy()
        if self.protocol == "per_class":
            query, database, train = retrieval_split(labels, self.queries_per_class, self.train_per_class, self.seed)
            split = {"queries_per_class": self.queries_per_class, "train_per_class": self.train_per_class}
        else:
            query, database, train = random_retrieval_split(len(labels), self.num_queries, self.num_train, self.seed)
            split = {"num_queries_requested": self.num_queries, "num_train": self.num_train}
        function = "retrieval_split" if self.protocol == "per_class" else "random_retrieval_split"
        split.update(pool_splits=self.pool_splits, pool_size=int(len(labels)), num_train_items=int(len(train)),
                     split_function=f"ssl_eval.hash_retrieval.{function} (pool = concatenation of "
                                    f"{self.pool_splits} in dataset order)")
        return feats[query], labels[query], feats[database], labels[database], split

    def evaluate(self, ctx) -> dict:
        q, ql, d, dl, split = self.codes(ctx)
        ranking = hamming_ranking(q, d, ql, dl, R=self.R)
        curve = precision_recall_by_radius(ranking.hist, ranking.rel_hist)
        metrics = {"map_at_all": ranking.map_at_all,
                   "precision_within_radius_2": float(curve.precision[min(2, len(curve.precision) - 1)])}
        if self.R is not None:
            metrics["map_at_R"] = ranking.map_at_r
        protocol = {
            "protocol": self.protocol,
            "dataset": ctx.dataset,
            "dataset_params": dict(ctx.dataset_params),
            "seed": self.seed,
            "num_queries": int(q.shape[0]),
            "num_database": int(d.shape[0]),
            "code_bits": int(q.shape[1]),
            "codes": "sign(objective.embed(x)) with the eval transform; a > 0 -> +1, else -1",
            "relevance": "share >= 1 label" if ql.ndim == 2 else "same label",
            "ranking": "Hamming distance, ties by database index (stable)",
            "map_at_all": "mean over queries of AP over the full ranking (0 for a query without relevant items)",
            "R": self.R,
            "map_at_R": ("mean over all queries of AP among the top R, normalised by the hits in the top R"
                         if self.R else None),
            "precision_within_radius": "hits / retrieved at distance <= radius, 0 when nothing is retrieved",
            **split,
        }
        run_dir = Path(ctx.run_dir)
        encoder = ctx.encoder_label
        # the JSON round trip makes the setting compare equal to the one read back from a file
        setting = json.loads(json.dumps({k: protocol.get(k) for k in SETTING_KEYS}, default=str))
        curve_path = curve_file(run_dir, encoder)
        atomic_write_text(curve_path, json.dumps({"encoder": encoder, "map_at_all": ranking.map_at_all,
                                                  "setting": setting, **curve.as_dict()}))
        protocol["pr_curve_json"] = str(curve_path)
        if self.plot:
            curves, maps = matching_curves(run_dir, setting)
            path = plot_precision_recall(curves, run_dir / f"{CURVE_STEM}.png", f"{ctx.dataset} {q.shape[1]} bits",
                                         map_at_all=maps)
            protocol["pr_curve_png"] = str(path)
        return {"metrics": metrics, "protocol": protocol, "outcomes": ["pr_curve_json", "pr_curve_png"]}
