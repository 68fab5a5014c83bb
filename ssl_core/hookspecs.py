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

Factory attributes the core reads (every other rule of an extension is in
the docstring of its hook below):

- ``sources`` (objectives): tuple of sampler names, the first the default;
  an empty tuple means the objective takes no negatives.
- ``source_requires`` (objectives): optional members of
  :class:`ssl_core.negatives.NegativeSource` the objective needs of its
  source (IR and CMC: ``("positives",)``); any registered sampler that has
  them, and ``pool`` / ``update``, is accepted, listed in ``sources`` or not.
- ``component_params`` (any kind): ``{param: kind}`` for parameters whose
  value is itself a component reference (``name`` or ``{name, params}``),
  validated as one (linear_probe's ``augment_views: views``).
- ``wraps_dataset`` (datasets): ``{"name": param, "params": param,
  "splits": param}`` naming the parameters that hold a wrapped dataset's
  name, params and splits (``retrieval_subset``), checked before building.
- ``out_dim`` (objective parameter): the key size of the negative source
  (its context parameter ``dim``): the value in the pipeline file, else the
  factory's default, else 128.
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
    - optional ``on_step(global_step: int, epoch: int) -> None``: called by
      the trainer before every ``step`` (after a resume with the restored
      step and epoch), to drive schedules (the objective passes it on to its
      source and selector: :class:`ssl_core.negatives.NegativesHooks`).
    - optional ``on_epoch(epoch: int) -> None``: called once per epoch and
      session, just before the epoch's first ``on_step`` (so also for an
      epoch resumed mid-way).
    - optional ``encoder`` attribute: the trained backbone that evaluators and
      exports use, when it is not the encoder given (CMC's two channel-split
      copies); without it, the given encoder.

    Metrics: every entry of ``step``'s dict is logged under its name; names
    ``group/name`` (``ring/lower``, ``ring/upper``) share one panel of the
    training curves. Selectors and sources report through the objective
    (``NegativesHooks.negatives_metrics``).

    Context parameters: ``encoder`` (the built encoder), ``source`` (the
    negative source or ``None``), ``selector`` (the negative selector or
    ``None``), ``num_examples`` (training-set size). The class attributes
    ``sources`` and ``source_requires`` (above) say which negative sources
    it takes. The objective uses its source and selector only through
    :class:`ssl_core.negatives.NegativeSource` / ``NegativeSelector``.
    """


@hookspec
def ssl_core_samplers() -> dict[str, Callable]:
    """Negative sources (in-batch, memory bank, queue), by name.

    A factory returns an ``nn.Module`` following
    :class:`ssl_core.negatives.NegativeSource`: ``pool(keys, index) ->
    (pool, valid)`` and ``update(keys, index)``, optionally ``positives(index)``,
    ``num_negatives`` and ``dim``, and optionally ``on_step(global_step,
    epoch)`` / ``metrics()`` as selectors. Its state (bank, queue, pointer) is
    held in persistent buffers so that it is saved in every checkpoint.
    Context parameters: ``dim`` (vector size, the objective's ``out_dim``) and
    ``num_examples`` (training-set size).
    """


@hookspec
def ssl_core_selectors() -> dict[str, Callable]:
    """Negative selectors (e.g. the CNCE ring), by name.

    A factory returns an ``nn.Module`` following
    :class:`ssl_core.negatives.NegativeSelector`: ``select(sim, valid) ->
    keep``: given anchor-to-pool similarities ``sim`` ``[B, P]`` and a
    boolean mask ``valid`` ``[B, P]`` of the entries allowed as negatives
    (``None``: all), it returns the boolean mask of the negatives kept per
    anchor. Optional ``on_step(global_step, epoch)`` drives any schedule (the
    step kept in a buffer so resume lands on the same band) and optional
    ``metrics() -> {name: float}`` reports its state into the objective's
    metrics. Context parameters: ``steps_per_epoch`` (of the global batch,
    all processes together) and ``max_epochs``.
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
    It may make a batch's views at once: ``batched`` (true), ``train_item(x)``
    (what the loader collects of an example) and ``train_batch(items, seeds)
    -> list[Tensor]`` (``n_views`` batches, example i's views drawn from
    ``seeds[i]`` alone); see :class:`ssl_core.multi_view_dataset.MultiViewDataset`.
    """


@hookspec
def ssl_core_evaluators() -> dict[str, Callable]:
    """Evaluators of a frozen encoder, by name.

    A factory returns an object with ``evaluate(ctx) -> dict`` where ``ctx``
    is an :class:`ssl_core.harness.EvalContext`; the evaluator never trains
    the encoder. It returns ``{"metrics": {name: float}, "protocol": {...}}``
    and optionally ``"outcomes"``, the names of the protocol entries that are
    results of the run rather than part of the protocol (a chosen learning
    rate, the encoder's feature size, the run's own files), which
    ``ssl-core compare`` does not compare, and ``"tables"`` ``{title: markdown}``.
    """


@hookspec
def ssl_core_suites() -> dict[str, Callable]:
    """Transfer suites, by name.

    A factory returns a list of :class:`ssl_core.suite.SuiteTask` (dataset
    name, dataset params, task title) that a transfer evaluator runs over.
    """


@hookspec
def ssl_core_export_formats() -> dict[str, Callable]:
    """Export formats of a trained backbone for other tools (``ssl-core export RUN --format NAME``), by name.

    A factory takes the format's options (``ssl-core export RUN --format
    NAME key=value ...``) and returns an object with ``file_name`` (the
    default output file, written in the run folder) and ``write(encoder,
    out) -> str``: convert the trained encoder (the ``nn.Module`` itself)
    and write it to ``out`` atomically, returning a one-line note for the
    user (what to load it into, what is not in it). An encoder it cannot
    convert raises :class:`ssl_core.errors.ExportError` saying what it
    supports. The encoder plugin that knows its modules' names provides them.
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
    "export_format": "ssl_core_export_formats",
}
"""Component kind -> the hook that declares it."""


@hookspec
def ssl_core_add_commands(subparsers) -> None:
    """Add ``ssl-core`` subcommands, as pytest's ``pytest_addoption`` adds options.

    ``subparsers`` is the ``argparse`` sub-parsers action of the ``ssl-core``
    parser: call ``subparsers.add_parser(name, help=...)``, add its arguments
    and ``set_defaults(func=command)`` where ``command(args) -> int`` is the
    exit status. An :class:`ssl_core.errors.SslCoreError` it raises is printed
    as one line (exit 2). A name already taken (by the core or another
    plugin) is refused and reported; the other commands still load.
    """
