"""Local Aggregation, LA (Zhuang, Zhai and Yamins, ICCV 2019): the CNCE paper's LA baseline."""

from __future__ import annotations

import warnings
from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.negatives import NegativeSource, NegativesHooks, check_source
from ssl_core.seeded_rng import item_seed

from ssl_contrastive.ir import check_bank, memory_bank_nce
from ssl_la.kmeans import faiss_available, kmeans
from ssl_la.la_loss import la_loss

LA_MOMENTUM = 0.5
"""The bank update momentum of LA: ``v_i <- normalize(0.5 v_i + 0.5 f(x_i))``."""


class LocalAggregation(NegativesHooks, nn.Module):
    """Local Aggregation: pull each example towards its close neighbours among its background neighbours.

    ``v = normalize(Linear(encoder(x)))`` (one view, ``views[0]``), scored
    against an IR memory bank (the ``memory_bank`` sampler; LA updates it with
    momentum 0.5: set ``negatives.source.params.momentum: 0.5``, as the
    example pipelines do; a bank built here when ``source`` is ``None`` uses
    0.5). Loss :func:`~ssl_la.la_loss.la_loss`:
    ``-log(P(C_i ∩ B_i | v) / P(B_i | v))`` with ``B_i`` the ``k`` nearest
    bank entries (``k`` is the bank's ``k``, 4096) and ``C_i`` the union of
    ``i``'s clusters over ``kmeans_runs`` k-means runs on the bank.

    The source is used through :class:`ssl_core.negatives.NegativeSource`
    only: ``pool(None, None)`` is the bank (the whole pool, the anchor's own
    entry included), ``update`` moves it, the IR warm-up contrasts against
    ``positives``, ``num_negatives`` is ``k`` (without it ``B_i`` is the whole
    pool, the protocol's meaning of its absence) and ``dim`` is checked against
    ``out_dim``. What LA needs beyond the protocol is declared in
    :attr:`source_requires` (``positives`` and ``momentum``: LA's bank moves
    with momentum 0.5, and another momentum is warned about), so that the
    pipeline refuses a source without it, and checked when built: the pool
    must hold one entry per training example, entry ``i`` being example
    ``i``'s (a memory bank), since the clusters and ``B_i``'s own entry are
    indexed by example. The source's optional ``on_step`` / ``metrics`` are
    forwarded (:class:`ssl_core.negatives.NegativesHooks`).

    The clusters are recomputed on the bank at the first step of every epoch
    (LA re-clusters every epoch) and kept in the persistent buffers
    ``cluster_labels`` (``[kmeans_runs, N]``) and ``clusters_epoch``, so a run
    resumed mid-epoch continues with the clusters it had. Run ``h`` of epoch
    ``e`` is seeded by ``(kmeans_seed, e, h)``. The trainer announces the
    epoch through :meth:`on_step` before every step; if it never does, the
    epoch is counted from the steps taken (``steps_done``, persistent) and
    the global batch (``bank entries // (batch x processes)`` steps per epoch,
    the trainer's drop-last epochs).

    With ``ir_warmup_epochs > 0`` the first epochs train plain IR on the same
    bank (:func:`ssl_contrastive.ir.memory_bank_nce`, ``k`` uniform
    negatives), as the LA authors start from IR; no clustering is done then.

    LA takes no negative selector: the CNCE paper (main text) defines the ring
    for IR, CMC, MoCo, SimCLR and not for LA, whose background set ``B_i`` is
    already a ball of the nearest entries.

    Args:
        out_dim: embedding size (the bank's ``dim``; 128).
        temperature: ``t`` (0.07).
        num_clusters: clusters per k-means run.
        kmeans_runs: number of k-means runs ``H`` whose clusters are united into ``C_i``.
        kmeans_iters: Lloyd iterations per run (20).
        kmeans_backend: ``"auto"`` (faiss if installed, else torch), ``"faiss"`` or ``"torch"``.
        kmeans_seed: seeds the k-means initialisations (with the epoch and the run).
        ir_warmup_epochs: epochs of plain IR before LA (0: none).
        encoder: the backbone (context), with ``feature_dim``.
        source: the negative source (context): a memory bank, or any source with ``pool``, ``update``
            and what :attr:`source_requires` names, one pool entry per example; ``None`` builds a memory
            bank with momentum 0.5.
        selector: must be ``None`` (context).
        num_examples: training-set size (context).
    """

    sources = ("memory_bank",)
    source_requires = ("positives", "momentum")
    """What LA needs of its source besides ``pool`` and ``update``: ``positives`` (the IR warm-up's positive,
    the stored entry of each example) and ``momentum`` (not in the protocol: the bank's update momentum, which
    LA checks is 0.5)."""

    def __init__(
        self,
        out_dim: int = 128,
        temperature: float = 0.07,
        num_clusters: int = 1000,
        kmeans_runs: int = 3,
        kmeans_iters: int = 20,
        kmeans_backend: Literal["auto", "faiss", "torch"] = "auto",
        kmeans_seed: int = 0,
        ir_warmup_epochs: int = 0,
        encoder: nn.Module | None = None,
        source: NegativeSource | None = None,
        selector: nn.Module | None = None,
        num_examples: int = 0,
    ):
        super().__init__()
        if out_dim < 1:
            raise ValueError(f"out_dim must be >= 1, got {out_dim}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if kmeans_runs < 1:
            raise ValueError(f"kmeans_runs must be >= 1, got {kmeans_runs}")
        if kmeans_iters < 1:
            raise ValueError(f"kmeans_iters must be >= 1, got {kmeans_iters}")
        if kmeans_backend not in ("auto", "faiss", "torch"):
            raise ValueError(f"kmeans_backend must be 'auto', 'faiss' or 'torch', got {kmeans_backend!r}")
        if ir_warmup_epochs < 0:
            raise ValueError(f"ir_warmup_epochs must be >= 0, got {ir_warmup_epochs}")
        if encoder is None:
            raise ValueError("encoder is required (context parameter)")
        if selector is not None:
            raise ValueError("LA takes no negative selector (the CNCE paper defines the ring for IR, CMC, MoCo and "
                             "SimCLR, not LA); remove objective.negatives.select")
        if source is not None:
            check_source(source, self.source_requires, "la")
        self.source = check_bank(source, out_dim, num_examples, momentum=LA_MOMENTUM, objective="la")
        name = type(self.source).__name__
        if self.source.momentum != LA_MOMENTUM:
            warnings.warn(f"LA updates its bank with momentum {LA_MOMENTUM} (Zhuang et al.); this bank has "
                          f"{self.source.momentum}: set objective.negatives.source.params.momentum: {LA_MOMENTUM}",
                          stacklevel=2)
        size = self.source.pool(None, None)[0].shape[0]
        if size == 0 or (num_examples > 0 and size != num_examples):
            examples = f" for {num_examples} training examples" if num_examples > 0 else ""
            raise ValueError(f"objective 'la' needs a negative source whose pool holds one entry per training example, "
                             f"entry i being example i's (a memory bank): source {name}'s pool has {size} "
                             f"entries{examples}")
        if not 1 <= num_clusters <= size:
            raise ValueError(f"num_clusters must lie in [1, {size}] (the bank's entries), got {num_clusters}")
        k = getattr(self.source, "num_negatives", None)
        self.background_k = size if k is None else int(k)
        if not 1 <= self.background_k <= size:
            problem = f"exceeds its {size} entries" if self.background_k > size else "is below 1"
            raise ValueError(f"source {name}'s num_negatives (the memory bank's k: LA's {self.background_k} background "
                             f"neighbours) {problem}; set objective.negatives.source.params.k in [1, {size}]")
        if kmeans_backend == "faiss" and not faiss_available():
            raise ValueError("kmeans_backend 'faiss' needs the faiss package (pip install faiss-cpu); "
                             "or use 'auto' (faiss when installed, else torch) or 'torch'")
        self.temperature = temperature
        self.num_clusters = num_clusters
        self.kmeans_iters = kmeans_iters
        self.kmeans_backend = kmeans_backend
        self.kmeans_seed = kmeans_seed
        self.ir_warmup_epochs = ir_warmup_epochs
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, out_dim)
        self.selector = None
        self.register_buffer("cluster_labels", torch.zeros(kmeans_runs, size, dtype=torch.long))
        self.register_buffer("clusters_epoch", torch.tensor(-1, dtype=torch.long))
        self.register_buffer("steps_done", torch.tensor(0, dtype=torch.long))
        self._announced_epoch: int | None = None

    def embed(self, x: Tensor) -> Tensor:
        """The projection output before l2 normalisation."""
        return self.head(self.encoder(x))

    def on_step(self, global_step: int, epoch: int) -> None:
        """Called by the trainer before every step (and right after a resume): re-cluster when the epoch changes.

        Passed on first to the source's ``on_step``, if it has one.
        """
        super().on_step(global_step, epoch)
        self._announced_epoch = int(epoch)
        self.refresh_clusters(self._announced_epoch)

    @torch.no_grad()
    def refresh_clusters(self, epoch: int) -> None:
        """Run the k-means on the bank for ``epoch`` unless already done for it (or still in the IR warm-up)."""
        if epoch < self.ir_warmup_epochs or int(self.clusters_epoch) == epoch:
            return
        bank, _ = self.source.pool(None, None)
        for run in range(self.cluster_labels.shape[0]):
            seed = item_seed(self.kmeans_seed, epoch, run)
            self.cluster_labels[run] = kmeans(bank, self.num_clusters, seed, self.kmeans_iters, self.kmeans_backend)
        self.clusters_epoch.fill_(epoch)

    def epoch_of_step(self, batch: int) -> int:
        """The epoch of the next step when the trainer does not announce it: counted from ``steps_done``."""
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        steps_per_epoch = max(1, self.cluster_labels.shape[1] // (batch * world))
        return int(self.steps_done) // steps_per_epoch

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict[str, float]]:
        """One step on ``views[0]``: the IR loss in the warm-up, else the LA loss; then the bank update.

        Args:
            views: the batch's views; only the first is used.
            index: ``[B]`` the examples' bank entries.

        Returns:
            The loss and its metrics (``close_in_background``: mean size of ``C_i ∩ B_i``).
        """
        epoch = self._announced_epoch
        if epoch is None:
            epoch = self.epoch_of_step(index.shape[0])
            self.refresh_clusters(epoch)
        z = F.normalize(self.embed(views[0]), dim=1)
        if epoch < self.ir_warmup_epochs:
            loss, metrics = memory_bank_nce(z, self.source, index, self.temperature)
        else:
            bank, _ = self.source.pool(None, None)  # the whole bank: B_i's own entry is forced in by la_loss
            loss, metrics = la_loss(z, bank.clone(), index, self.cluster_labels, self.background_k, self.temperature)
        self.source.update(z.detach(), index)
        self.steps_done += 1
        return loss, metrics | self.negatives_metrics()
