"""Instance discrimination with a memory bank, IR (Wu et al., 2018), and its ring variant IRing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.negatives import NegativeSource, NegativesHooks, check_source
from ssl_core.rank_rand import rank_rand

from ssl_contrastive.info_nce import info_nce
from ssl_contrastive.memory_bank import MemoryBank

FULL_PRODUCT_RATIO = 16
"""Banks of at most this many times ``k`` entries use one full anchor-to-bank product (see :func:`memory_bank_nce`)."""


def draw_negatives(index: Tensor, keep: Tensor | None, num_entries: int, k: int) -> Tensor:
    """``[B, k]`` bank indices drawn uniformly with replacement from each anchor's allowed set.

    Without ``keep`` the allowed set is every entry but the anchor's own
    (``index``), as in IR; with ``keep`` (a selector's ``[B, N]`` mask, the
    ring) it is the kept entries, as the authors' IRing draws its negatives
    from the ring with replacement. Both cases use one uniform draw ``r`` in
    ``[0, count)`` per negative and take the ``r``-th allowed entry, so with the
    same random state a ring that keeps every valid entry (``l = 0``,
    ``u = 100``) draws exactly the negatives of the plain objective.

    Args:
        index: ``[B]`` the anchors' own bank entries.
        keep: ``[B, N]`` boolean mask, or ``None``.
        num_entries: ``N``, the bank size.
        k: negatives per anchor.
    """
    u = rank_rand((index.shape[0], k), dtype=torch.float64, device=index.device)
    if keep is None:
        count = num_entries - 1
        r = (u * count).long().clamp_(max=count - 1)
        return r + (r >= index[:, None]).long()
    kept = keep.nonzero()  # (row, column) pairs, row-major: each row's kept columns in increasing order
    count = torch.bincount(kept[:, 0], minlength=keep.shape[0])[:, None]
    if bool((count == 0).any()):
        raise ValueError("a selector kept no negative for some anchor; the ring must keep at least one")
    r = torch.minimum((u * count).long(), count - 1)
    return kept[:, 1][count.cumsum(0) - count + r]


def memory_bank_nce(anchor: Tensor, source: NegativeSource, index: Tensor, temperature: float,
                    selector: nn.Module | None = None, rank_own_entry: bool = False) -> tuple[Tensor, dict[str, float]]:
    """The IR / IRing loss of l2-normalised ``anchor`` against a source with positives (CNCE paper, Eq. 2 and Sec. 4).

    ``source`` follows :class:`ssl_core.negatives.NegativeSource` and has
    ``positives`` (a memory bank): ``source.pool(anchor, index)`` gives the
    pool and the mask of each anchor's valid negatives (for the bank: every
    entry but its own). Positive: ``source.positives(index)``, the stored entry
    of the anchor's own example. Negatives: with ``num_negatives = k`` on the
    source (the bank's ``k``), ``k`` entries drawn per anchor
    (:func:`draw_negatives`) uniformly from the valid ones or, with a
    selector, from the ring of the anchor's similarities to the pool (with
    ``rank_own_entry`` the anchor's own entry is ranked with the others, and
    may be drawn, as in the authors' IRing); without it, every valid (or
    kept) entry. Loss: :func:`info_nce`, i.e.
    ``-(pos/t - logsumexp([pos, negatives]/t))``, which is Eq. 2 up to the
    constant ``log(k + 1)``. The authors' code draws ``k - 1`` negatives so
    that the denominator has ``k`` terms; here ``k`` negatives are drawn
    (the paper's ``{i, 1:k}``); set the bank's ``k`` to 4095 for theirs.

    Two equivalent ways to get the ``k`` similarities, chosen by size: for a
    pool of at most ``FULL_PRODUCT_RATIO * k`` entries (CIFAR: 50,000 <=
    16 x 4096) one ``[B, N]`` product with gradient, whose drawn columns are
    gathered and which the selector reuses (detached); for larger pools
    (ImageNet) the ``B x k`` drawn entries are gathered and multiplied, and the
    ring's selection product is computed without gradient. Either way the
    gradient flows through exactly the ``k`` sampled terms, and the plain and
    the ring objective take the same path, so a ring that keeps everything
    gives bit-for-bit the plain loss.
    """
    metrics: dict[str, float] = {}
    pool, valid = source.pool(anchor, index)
    k = getattr(source, "num_negatives", None)
    sim = None
    if k is None or pool.shape[0] <= FULL_PRODUCT_RATIO * k:
        # [B, N] with gradient, its drawn columns gathered below; on a copy of the pool, which autograd
        # keeps for backward while the source is updated in place at the end of the step
        sim = anchor @ pool.to(anchor.dtype, copy=True).T
    keep = valid
    if selector is not None:
        with torch.no_grad():
            scores = sim.detach() if sim is not None else anchor.detach() @ pool.to(anchor.dtype).T
            keep = selector.select(scores, None if rank_own_entry else valid)
        metrics["ring_kept_per_anchor"] = keep.sum(1).float().mean().item()
    positive = (anchor * source.positives(index).to(anchor.dtype)).sum(dim=1)
    if k is None:
        negatives = sim
        loss = info_nce(positive, negatives, keep, temperature)
    else:
        if keep is None:
            keep = torch.ones(anchor.shape[0], pool.shape[0], dtype=torch.bool, device=anchor.device)
        neg_index = draw_negatives(index, keep, pool.shape[0], k)
        if sim is not None:
            negatives = sim.gather(1, neg_index)
        else:
            entries = pool[neg_index].to(anchor.dtype)  # [B, k, D], a copy outside autograd's view of the source
            negatives = torch.bmm(entries, anchor[:, :, None]).squeeze(2)
        loss = info_nce(positive, negatives, None, temperature)
    metrics["positive_similarity"] = positive.mean().item()
    metrics["negative_similarity"] = (negatives.masked_select(keep).mean() if k is None and keep is not None
                                      else negatives.mean()).item()
    return loss, metrics


class IR(NegativesHooks, nn.Module):
    """Instance discrimination with a memory bank (Wu et al., 2018); IRing with a ring selector.

    ``z = normalize(Linear(encoder(x)))`` (one view, ``views[0]``); positive =
    the bank entry of the same example; ``k`` negatives from the bank
    (uniform, or from the anchor's ring: CNCE paper Sec. 4, "For IR and CMC,
    this amounts to simply sampling entries in the memory bank that fall
    within the l-th to u-th percentile"); loss :func:`memory_bank_nce` with
    temperature 0.07. After the loss, the bank entries of the batch move to
    ``z`` (``bank.update``; momentum 0 in the ring code replaces them).

    Args:
        out_dim: embedding size (the bank's ``dim``).
        temperature: ``t`` (0.07).
        encoder: the backbone (context), with ``feature_dim``.
        source: the memory bank (context); ``None`` builds
            ``MemoryBank(dim=out_dim, num_examples=num_examples)``.
        selector: optional negative selector, e.g. the ring (context).
        num_examples: training-set size (context).
        rank_own_entry: with a selector, rank the anchor's own bank entry
            among the pool (the authors' IRing: usually rank 0, so the band
            shifts by one) instead of leaving it out before ranking.
    """

    sources = ("memory_bank",)
    source_requires = ("positives",)

    def __init__(
        self,
        out_dim: int = 128,
        temperature: float = 0.07,
        encoder: nn.Module | None = None,
        source: NegativeSource | None = None,
        selector: nn.Module | None = None,
        num_examples: int = 0,
        rank_own_entry: bool = False,
    ):
        super().__init__()
        if out_dim < 1:
            raise ValueError(f"out_dim must be >= 1, got {out_dim}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if encoder is None:
            raise ValueError("encoder is required (context parameter)")
        self.temperature = temperature
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, out_dim)
        self.source = check_bank(source, out_dim, num_examples)
        self.selector = selector
        self.rank_own_entry = rank_own_entry

    def embed(self, x: Tensor) -> Tensor:
        """The projection output before l2 normalisation."""
        return self.head(self.encoder(x))

    def step(self, views: list[Tensor], index: Tensor) -> tuple[Tensor, dict[str, float]]:
        z = F.normalize(self.embed(views[0]), dim=1)
        loss, metrics = memory_bank_nce(z, self.source, index, self.temperature, self.selector, self.rank_own_entry)
        self.source.update(z.detach(), index)
        return loss, metrics | self.negatives_metrics()


def check_bank(source: nn.Module | None, out_dim: int, num_examples: int, momentum: float = 0.0,
               objective: str = "ir") -> nn.Module:
    """``source`` if it has what IR needs of a source (``positives``) and ``out_dim``; a new memory bank if ``None``."""
    if source is None:
        if num_examples < 2:
            raise ValueError(f"num_examples must be >= 2 to build a memory bank, got {num_examples}")
        return MemoryBank(momentum=momentum, dim=out_dim, num_examples=num_examples)
    check_source(source, IR.source_requires, objective)
    dim = getattr(source, "dim", None)
    if dim is not None and dim != out_dim:
        raise ValueError(f"out_dim ({out_dim}) must equal the source's dim ({dim})")
    return source
