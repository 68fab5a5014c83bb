"""Hook specifications of ssl-core.

Every component kind of the library is declared by one hook. A plugin (a
module or an object) implements any subset of them with ``@ssl_core.hookimpl``
and returns a ``{name: factory}`` mapping. A factory is a class or function
whose keyword parameters are the component's parameters: their annotations
and defaults are what a pipeline file is validated against, and a factory may
raise ``ValueError`` for values out of range (validation lives next to the
method). Some parameters are *context*: the pipeline fills them, never the
YAML file (``encoder``, ``in_channels``, ``dim``, ``num_examples`` ...); the
docstring of each hook lists them.

Built-in plugins are plain modules registered by the same plugin manager as
third-party ones, which are found through the ``ssl_core`` entry-point group.
"""

from __future__ import annotations

from typing import Callable

import pluggy

PROJECT_NAME = "ssl_core"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ssl_core_objectives() -> dict[str, Callable]:
    """Self-supervised objectives, by name.

    A factory returns an ``nn.Module`` that owns its heads and auxiliary
    networks (momentum encoder, inference network) and implements:

    - ``step(views: list[Tensor], index: Tensor) -> (loss, metrics)``: one
      training step's loss (a scalar with grad) and a dict of float metrics.
      Sampler updates (bank, queue) and momentum updates happen here, so they
      never run outside training.
    - ``embed(x) -> Tensor``: the output space the objective trains (the
      projection head's pre-activation); hash codes are its sign.

    Context parameters: ``encoder`` (the built encoder), ``source`` (the
    negative source or ``None``), ``selector`` (the negative selector or
    ``None``), ``num_examples`` (training-set size). The class attribute
    ``sources`` (tuple of sampler names, first is the default) says which
    negative sources it accepts; an empty tuple means it takes none.
    """


@hookspec
def ssl_core_samplers() -> dict[str, Callable]:
    """Negative sources (in-batch, memory bank, queue), by name.

    A factory returns an ``nn.Module`` whose state (bank, queue, pointer) is
    held in persistent buffers so that it is saved in every checkpoint.
    Context parameters: ``dim`` (vector size, the objective's ``out_dim``) and
    ``num_examples`` (training-set size).
    """


@hookspec
def ssl_core_selectors() -> dict[str, Callable]:
    """Negative selectors (e.g. the CNCE ring), by name.

    A factory returns an ``nn.Module`` with ``select(sim, valid) -> keep``:
    given anchor-to-pool similarities ``sim`` ``[B, P]`` and a boolean mask
    ``valid`` ``[B, P]`` of the entries allowed as negatives, it returns the
    boolean mask of the negatives kept per anchor. ``set_step(global_step)``
    drives any schedule; the step is kept in a buffer so resume lands on the
    same band. Context parameters: ``steps_per_epoch``, ``max_epochs``.
    """


@hookspec
def ssl_core_encoders() -> dict[str, Callable]:
    """Encoders (backbones), by name.

    A factory returns an ``nn.Module`` with ``feature_dim`` (int),
    ``forward_features(x) -> Tensor`` (the pre-pool map), ``pool(map) ->
    Tensor [B, feature_dim]`` and ``forward(x) == pool(forward_features(x))``.
    Context parameter: ``in_channels`` (from the data).
    """


@hookspec
def ssl_core_datasets() -> dict[str, Callable]:
    """Datasets, by name.

    A factory takes ``split`` (``"train"`` or ``"test"``, context) and its own
    parameters and returns a ``torch.utils.data.Dataset`` whose items are
    ``(x, label)`` with ``x`` raw (PIL image, array or tensor) and an integer
    label, and whose attribute ``num_classes`` gives the label count. A
    missing dataset raises ``FileNotFoundError`` naming where it looked. A
    factory that wraps other datasets (``retrieval_subset``) may also take
    ``registry`` (context) to build them by name.
    """


@hookspec
def ssl_core_views() -> dict[str, Callable]:
    """View generators (augmentations), by name.

    A factory returns an object with ``train(x) -> Tensor`` (one random view),
    ``eval(x) -> Tensor`` (deterministic) and ``n_views`` (views per example).
    """


@hookspec
def ssl_core_evaluators() -> dict[str, Callable]:
    """Evaluators of a frozen encoder, by name.

    A factory returns an object with ``evaluate(ctx) -> dict`` where ``ctx``
    is an :class:`ssl_core.harness.EvalContext`; the evaluator never trains
    the encoder. It returns ``{"metrics": {name: float}, "protocol": {...}}``.
    """


@hookspec
def ssl_core_suites() -> dict[str, Callable]:
    """Transfer suites, by name.

    A factory returns a list of :class:`ssl_core.suite.SuiteTask` (dataset
    name, dataset params, task title) that a transfer evaluator runs over.
    """


KINDS: dict[str, str] = {
    "objective": "ssl_core_objectives",
    "sampler": "ssl_core_samplers",
    "selector": "ssl_core_selectors",
    "encoder": "ssl_core_encoders",
    "dataset": "ssl_core_datasets",
    "views": "ssl_core_views",
    "evaluator": "ssl_core_evaluators",
    "suite": "ssl_core_suites",
}
"""Component kind -> the hook that declares it."""
