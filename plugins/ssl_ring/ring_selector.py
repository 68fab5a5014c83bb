"""The CNCE ring: per anchor, keep the pool entries between the l-th and u-th similarity percentile.

Wu, Mosse, Zhuang, Yamins and Goodman, "Conditional Negative Sampling for
Contrastive Learning of Visual Representations", ICLR 2021: Sec. 4 ("Ring
Discrimination", "Picking thresholds", "Annealing Policy") and Algorithm 1.
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
from torch import Tensor, nn

from ssl_core.errors import ConfigWarning
from ssl_ring.anneal_schedule import Schedule, annealed_upper

_EPS = 1e-9


class RingSelector(nn.Module):
    """Ring selection of negatives (CNCE, Sec. 4 and Alg. 1), with an annealed upper percentile.

    For each anchor the ``n`` valid pool entries are ranked by similarity,
    most similar first (rank 0). The ring keeps the ranks

        ``floor(l * n / 100) <= rank < ceil(u * n / 100)``

    and at least one entry whenever ``n >= 1`` (the band is widened to one
    entry, the one at the upper cut, if rounding empties it). So with
    ``n = 1000``, ``l = 1``, ``u = 10`` ranks 10..99 are kept (90 negatives),
    and ``l = 0, u = 100`` keeps exactly the valid entries, i.e. the plain
    objective. ``l = 0`` is the paper's "Ball" ablation (Table 2); no separate
    component is needed. Ties at a cut are broken arbitrarily (``torch.topk``)
    but the number kept is exact.

    With ``inner_relative_to_outer`` the inner cut is taken, as in the
    authors' code (``dynamic_inner``, which their code cannot switch off), as
    a fraction of the outer count instead of the pool:
    ``floor(l * hi / 100) <= rank < hi`` with ``hi = ceil(u * n / 100)``.
    Their shipped IRing/MoCoRing configs use ``l = 10`` in this mode, which
    at ``u = 10`` is the paper's ``l = 1`` (but 10% of the pool while ``u``
    is still 100).

    With ``upper_rounding: floor`` the upper cut is ``floor(u * n / 100)``
    instead of ``ceil``, as the authors' code (``int(thres_outer * size)``)
    takes it: one negative fewer whenever ``u * n / 100`` is not whole
    (5,898 instead of 5,899 at ``n = 65,536``, ``u = 10``,
    ``inner_relative_to_outer`` with ``l = 10``). The default ``ceil`` keeps
    exactly the ranks ``r < u * n / 100``, the entries within the top ``u``
    percent (Sec. 4, "Picking thresholds"). Either way at least one entry
    is kept.

    Only the entries above the upper cut matter, so the selection is a
    ``torch.topk`` of that many entries (the largest count over the rows;
    rows with fewer valid entries use a per-row band), never a full sort;
    when the band is the whole valid set, no ranking is done at all.

    Annealing (Sec. 4, "Annealing Policy"; Table 2): ``u`` is a function of
    the global step held in the persistent buffer ``step`` (set by
    :meth:`set_step`, which the objective's ``on_step`` calls, saved in checkpoints, so a resumed run lands on the same
    band). It falls from ``u_start`` (100) to ``u`` over ``anneal_epochs``
    epochs, then stays; the formulas of the ``linear`` (paper default),
    ``step``, ``exponential`` and ``none`` schedules are in
    :mod:`ssl_ring.anneal_schedule`. ``l`` is not annealed: Alg. 1 writes
    ``anneal(w.l); anneal(w.u)`` but the text only describes lowering ``w_u``,
    the experiments say "we anneal u starting from 100" with ``l = 1``, and the
    authors' code keeps the inner threshold constant ("everyone uses constant
    inner threshold!").

    Args:
        l: lower percentile in [0, 100) (1 in the paper); with
            ``inner_relative_to_outer`` a percentage of the outer count.
        u: target upper percentile in (l, 100] (10 in the paper).
        schedule: annealing of ``u``: ``"linear"``, ``"step"``,
            ``"exponential"`` or ``"none"``.
        anneal_epochs: epochs over which ``u`` falls to its target (100).
        u_start: value of ``u`` at step 0, in [u, 100] (100: the whole pool).
        step_size: percentage points between levels of the ``step`` schedule.
        decay: per-step rate of the ``exponential`` schedule (0.1 as the
            authors' code).
        inner_relative_to_outer: take the inner cut as ``l`` percent of the
            outer count (the authors' code) instead of ``l`` percent of the pool.
        upper_rounding: ``"ceil"`` (default) or ``"floor"`` (the authors'
            code) for the upper cut ``u * n / 100``.
        steps_per_epoch: optimisation steps per epoch (context).
        max_epochs: training length in epochs (context; only used to warn
            when annealing would not finish).
    """

    def __init__(
        self,
        l: float = 1.0,  # noqa: E741 - the paper's name
        u: float = 10.0,
        schedule: Schedule = "linear",
        anneal_epochs: int = 100,
        u_start: float = 100.0,
        step_size: float = 10.0,
        decay: float = 0.1,
        inner_relative_to_outer: bool = False,
        upper_rounding: Literal["ceil", "floor"] = "ceil",
        steps_per_epoch: int = 1,
        max_epochs: int = 0,
    ):
        super().__init__()
        if not 0.0 < u <= 100.0:
            raise ValueError(f"u must lie in (0, 100], got {u}")
        if not 0.0 <= l < 100.0:
            raise ValueError(f"l must lie in [0, 100), got {l}")
        if not inner_relative_to_outer and l >= u:
            raise ValueError(f"l must be < u ({u}), got {l}")
        if not u <= u_start <= 100.0:
            raise ValueError(f"u_start must lie in [u, 100] = [{u}, 100], got {u_start}")
        if anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be >= 0, got {anneal_epochs}")
        if step_size <= 0:
            raise ValueError(f"step_size must be > 0, got {step_size}")
        if decay <= 0:
            raise ValueError(f"decay must be > 0, got {decay}")
        if upper_rounding not in ("ceil", "floor"):
            raise ValueError(f"upper_rounding must be 'ceil' or 'floor', got {upper_rounding!r}")
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        if schedule != "none" and 0 < max_epochs < anneal_epochs and u_start > u:
            warnings.warn(ConfigWarning(
                "anneal_epochs", f"{anneal_epochs} exceeds train.epochs ({max_epochs}): u will not anneal down to "
                f"{u} before training ends; set it <= {max_epochs}"))
        annealed_upper(schedule, 0, 1, u_start, u)  # validates the schedule name
        self.l = float(l)
        self.u = float(u)
        self.schedule = schedule
        self.anneal_epochs = anneal_epochs
        self.u_start = float(u_start)
        self.step_size = float(step_size)
        self.decay = float(decay)
        self.inner_relative_to_outer = inner_relative_to_outer
        self.upper_rounding = upper_rounding
        self.steps_per_epoch = steps_per_epoch
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    @property
    def anneal_steps(self) -> int:
        """``S``: the number of optimisation steps over which ``u`` is annealed."""
        return self.anneal_epochs * self.steps_per_epoch

    def set_step(self, global_step: int) -> None:
        """Set the global step that drives the schedule (kept in the ``step`` buffer)."""
        self.step.fill_(int(global_step))

    def on_step(self, global_step: int, epoch: int) -> None:
        """The objective's per-step hook (:class:`ssl_core.negatives.NegativeSelector`): :meth:`set_step`."""
        self.set_step(global_step)

    def metrics(self) -> dict[str, float]:
        """The current band, ``ring/lower`` and ``ring/upper`` (percent), logged with the objective's metrics."""
        lower, upper = self.band()
        return {"ring/lower": float(lower), "ring/upper": float(upper)}

    def band(self) -> tuple[float, float]:
        """The current ``(l, u)`` in percent, at the step in the ``step`` buffer."""
        u = annealed_upper(self.schedule, int(self.step), self.anneal_steps, self.u_start, self.u,
                           self.step_size, self.decay)
        return self.l, u

    def cuts(self, n: Tensor) -> tuple[Tensor, Tensor]:
        """Per row with ``n`` valid entries, the kept ranks ``[lo, hi)`` (long tensors, the rule above)."""
        l, u = self.band()
        count = n.to(torch.float64)
        if self.upper_rounding == "floor":
            hi = torch.floor(count * u / 100.0 + _EPS)
        else:
            hi = torch.ceil(count * u / 100.0 - _EPS)
        hi = torch.minimum(torch.clamp(hi, min=1.0), count)
        base = hi if self.inner_relative_to_outer else count
        lo = torch.floor(base * l / 100.0 + _EPS)
        lo = torch.clamp(torch.minimum(lo, hi - 1.0), min=0.0)
        return lo.long(), hi.long()

    @torch.no_grad()
    def select(self, sim: Tensor, valid: Tensor | None = None) -> Tensor:
        """The ring mask ``keep [B, P]`` of each anchor's negatives.

        Args:
            sim: ``[B, P]`` anchor-to-pool similarities (higher = closer).
            valid: ``[B, P]`` boolean mask of the entries allowed as negatives,
                or ``None`` for all of them.

        Returns:
            Boolean ``[B, P]``, a subset of ``valid``: per row the valid
            entries ranked in ``[lo, hi)`` (see :meth:`cuts`).
        """
        rows, size = sim.shape
        if valid is None:
            n = torch.full((rows,), size, dtype=torch.long, device=sim.device)
        else:
            n = valid.sum(dim=1, dtype=torch.int32)  # faster than the default int64 sum of a bool mask
        lo, hi = self.cuts(n)
        if bool((lo == 0).all()) and bool((hi == n).all()):
            return torch.ones_like(sim, dtype=torch.bool) if valid is None else valid.clone()
        k = int(hi.max())
        scores = sim if valid is None else sim.masked_fill(~valid, float("-inf"))
        _, top = torch.topk(scores, k, dim=1, largest=True, sorted=True)
        rank = torch.arange(k, device=sim.device)[None, :]
        in_band = (rank >= lo[:, None]) & (rank < hi[:, None])
        return torch.zeros_like(sim, dtype=torch.bool).scatter_(1, top, in_band)

    def forward(self, sim: Tensor, valid: Tensor | None = None) -> Tensor:
        return self.select(sim, valid)

    def extra_repr(self) -> str:
        l, u = self.band()
        return (f"l={self.l}, u={self.u}, schedule={self.schedule!r}, anneal_epochs={self.anneal_epochs}, "
                f"inner_relative_to_outer={self.inner_relative_to_outer}, upper_rounding={self.upper_rounding!r}, "
                f"step={int(self.step)}, band=({l:.3g}, {u:.3g})")
