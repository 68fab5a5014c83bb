"""The written protocols of negative sources and negative selectors, and the objective side of them.

An objective codes against these protocols only, never against one source
or selector class, so that a third-party source (a FIFO of in-batch keys, a
subsampled bank ...) or selector plugs into every objective whose needs it
meets, with no edit outside its own package.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class NegativeSource(Protocol):
    """Where an objective's negatives come from (in-batch keys, a memory bank, a queue ...).

    Required:

    - ``pool(keys, index) -> (pool, valid)``: the candidate negatives of a
      batch's anchors. ``keys`` ``[B, D]`` are the batch's own keys (an
      in-batch source returns them, with their gradient; a stored source may
      ignore them), ``index`` ``[B]`` the anchors' example indices (``None``
      when the objective has none to give). ``pool`` is ``[P, D]``;
      ``valid`` is a boolean ``[B, P]`` mask of the entries allowed as each
      anchor's negatives (e.g. not the anchor's own example), or ``None``
      when every entry is. The pool may share memory with the source's
      state: an objective that needs it after :meth:`update` copies it.
    - ``update(keys, index) -> None``: after the loss, store the batch's keys
      (detached) for later steps; under DDP the source gathers them from
      every process itself. A source that stores nothing does nothing.

    Optional (an objective that needs one says so in its ``source_requires``
    class attribute, and the pipeline refuses a source without it):

    - ``positives(index) -> Tensor [B, D]``: the stored entry of each anchor's
      own example (memory banks; IR and CMC contrast against it).
    - ``num_negatives`` (int): how many negatives an objective that samples
      (IR, CMC) draws per anchor from the valid pool; without it the whole
      valid pool is used.
    - ``dim`` (int): the key size, checked against the objective's ``out_dim``.

    All state (bank, queue, pointer, owners) lives in persistent buffers, so
    that every checkpoint saves it and a resumed run continues with the same
    negatives. Context parameters of the factory: ``dim`` (the objective's
    ``out_dim``) and ``num_examples`` (training-set size).
    """

    def pool(self, keys: Tensor | None, index: Tensor | None) -> tuple[Tensor, Tensor | None]: ...

    def update(self, keys: Tensor, index: Tensor | None) -> None: ...


@runtime_checkable
class NegativeSelector(Protocol):
    """Which of the valid pool entries each anchor keeps as negatives (e.g. the CNCE ring).

    Required: ``select(sim, valid) -> keep``: anchor-to-pool similarities
    ``sim`` ``[B, P]`` and the valid mask (``None``: all valid) give the
    boolean ``[B, P]`` mask of the negatives kept, a subset of ``valid``.

    Optional: ``on_step(global_step, epoch)`` drives a schedule (the step is
    kept in a persistent buffer, so a resumed run lands on the same
    selection); ``metrics() -> {name: float}`` reports its state (the
    ring's ``ring/lower``, ``ring/upper``), which the objective adds to the
    metrics of its ``step``. Context parameters of the factory:
    ``steps_per_epoch`` (of the global batch) and ``max_epochs``.
    """

    def select(self, sim: Tensor, valid: Tensor | None) -> Tensor: ...


def missing_members(source: object, names: tuple[str, ...]) -> list[str]:
    """The members of ``names`` (besides ``pool`` and ``update``) that ``source`` lacks."""
    return [name for name in ("pool", "update", *names) if not hasattr(source, name)]


def check_source(source: object, names: tuple[str, ...], objective: str) -> None:
    """Raise ``ValueError`` naming what ``source`` lacks of the protocol and of ``names``."""
    missing = missing_members(source, names)
    if missing:
        raise ValueError(f"source {type(source).__name__} lacks {', '.join(missing)}, which the objective "
                         f"'{objective}' needs of its negative source (see ssl_core.negatives.NegativeSource)")


class NegativesHooks:
    """Mixin of an objective with ``self.source`` and ``self.selector``: forwards the step, gathers metrics.

    ``on_step(global_step, epoch)`` (the trainer's call before every step) is
    passed to the sources and the selector that define it;
    :meth:`negatives_metrics` is what they report, for ``step``'s metrics.
    """

    def negatives_parts(self) -> tuple:
        """The objective's sources and selector (default ``self.source``, ``self.selector``)."""
        return getattr(self, "source", None), getattr(self, "selector", None)

    def on_step(self, global_step: int, epoch: int) -> None:
        for part in self.negatives_parts():
            hook = getattr(part, "on_step", None)
            if hook is not None:
                hook(global_step, epoch)

    def negatives_metrics(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for part in self.negatives_parts():
            report = getattr(part, "metrics", None)
            if callable(report):
                metrics.update({key: float(value) for key, value in report().items()})
        return metrics
