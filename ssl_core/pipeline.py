"""Builds the components of a validated pipeline through the registry."""

from __future__ import annotations

import inspect
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from ssl_core.config import Config
from ssl_core.errors import ConfigWarning, ParamError
from ssl_core.negatives import missing_members
from ssl_core.registry import Registry
from ssl_core.seeded_rng import seed_everything


@dataclass
class Pipeline:
    """The built components of a pipeline (the training data is raw ``(x, label)`` items)."""

    config: Config
    registry: Registry
    train_data: Dataset
    views: Any
    encoder: nn.Module
    objective: nn.Module
    in_channels: int
    steps_per_epoch: int


def build(config: Config, registry: Registry, kind: str, name: str, params: dict, path: tuple, **context) -> Any:
    """``registry.build`` with errors and :class:`ConfigWarning` s mapped to the pipeline file's line of the parameter.

    A component's :class:`ConfigWarning` is printed on stderr as one line,
    ``file:line: warning: dotted.key: message``; other warnings pass through.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            built = registry.build(kind, name, params, **context)
        except ParamError as exc:
            raise config.error(path + (exc.key,) if exc.key in params else path, exc.message, exc.choices) from None
    for w in caught:
        if isinstance(w.message, ConfigWarning):
            full = path + (w.message.key,)
            print(f"ssl-core: warning: {config.where(full)}: {'.'.join(map(str, full))}: {w.message.message}",
                  file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return built


def build_pipeline(config: Config, registry: Registry, world_size: int = 1, init_weights: bool = True) -> Pipeline:
    """Seed, then build data, views, encoder, negatives and objective, in that order.

    Seeding first makes the encoder's initial weights a function of the
    pipeline's seed: the random-init baseline is the pretraining's start.
    With ``encoder.init_from`` the encoder then takes those weights, before
    the objective is built (a momentum encoder copies them); ``init_weights=False``
    skips that (a trained run's weights are loaded over them anyway).
    """
    values = config.values
    seed_everything(values["seed"])
    data = values["data"]
    train_data = build(config, registry, "dataset", data["dataset"], data["params"], ("data", "params"), split="train")
    views = build(config, registry, "views", values["views"]["name"], values["views"]["params"], ("views", "params"))
    if len(train_data) == 0:
        raise config.error(("data", "dataset"), f"the training split of '{data['dataset']}' is empty")
    in_channels = int(views.eval(train_data[0][0]).shape[0])
    seed_everything(values["seed"])
    encoder = build(config, registry, "encoder", values["encoder"]["name"], values["encoder"]["params"],
                    ("encoder", "params"), in_channels=in_channels)
    if init_weights and values["encoder"].get("init_from"):
        from ssl_core.errors import SslCoreError
        from ssl_core.init_weights import load_initial_weights

        try:
            load_initial_weights(encoder, values["encoder"]["init_from"], registry)
        except (SslCoreError, FileNotFoundError) as exc:  # absent, unreadable (weights_only), not fitting
            raise config.error(("encoder", "init_from"), str(exc).removeprefix("encoder.init_from: ")) from None
    batch = values["train"]["batch_size"] * world_size
    steps_per_epoch = len(train_data) // batch
    if steps_per_epoch == 0:
        raise config.error(("train", "batch_size"), f"a global batch of {batch} is larger than the {len(train_data)} training examples")
    source, selector = build_negatives(config, registry, len(train_data), steps_per_epoch)
    objective_cfg = values["objective"]
    objective = build(config, registry, "objective", objective_cfg["name"], objective_cfg["params"], ("objective", "params"),
                      encoder=encoder, source=source, selector=selector, num_examples=len(train_data))
    # The trained backbone is ``objective.encoder`` when the objective has one (hookspecs): CMC, for one,
    # trains two channel-split copies of the one given.
    encoder = getattr(objective, "encoder", None) or encoder
    return Pipeline(config, registry, train_data, views, encoder, objective, in_channels, steps_per_epoch)


def build_negatives(config: Config, registry: Registry, num_examples: int, steps_per_epoch: int) -> tuple[Any, Any]:
    """The negative source and the optional selector, by the rules of :mod:`ssl_core.hookspecs`.

    The source defaults to the first name of the objective's ``sources``;
    any other sampler is taken when it has the members of
    :class:`ssl_core.negatives.NegativeSource` and those the objective's
    ``source_requires`` names. Its ``dim`` is the objective's ``out_dim``
    (the value given, else the factory's default, else 128).
    """
    objective_cfg = config.values["objective"]
    factory = registry.get("objective", objective_cfg["name"]).factory
    accepted = tuple(getattr(factory, "sources", ()))
    negatives = objective_cfg["negatives"]
    source_cfg, select_cfg = negatives["source"], negatives["select"]
    path = ("objective", "negatives")
    if not accepted:
        if source_cfg or select_cfg:
            raise config.error(path, f"objective '{objective_cfg['name']}' takes no negatives; remove objective.negatives")
        return None, None
    source_cfg = source_cfg or {"name": accepted[0], "params": {}}
    dim = objective_cfg["params"].get("out_dim", _default(factory, "out_dim", 128))
    source = build(config, registry, "sampler", source_cfg["name"], source_cfg["params"], path + ("source", "params"),
                   dim=dim, num_examples=num_examples)
    missing = missing_members(source, tuple(getattr(factory, "source_requires", ())))
    if missing:
        raise config.error(path + ("source",), f"objective '{objective_cfg['name']}' cannot take negatives from "
                           f"'{source_cfg['name']}': the sampler lacks {', '.join(missing)} (see "
                           f"ssl_core.negatives.NegativeSource)", list(accepted))
    selector = None
    if select_cfg:
        selector = build(config, registry, "selector", select_cfg["name"], select_cfg["params"], path + ("select", "params"),
                         steps_per_epoch=steps_per_epoch, max_epochs=config.values["train"]["epochs"])
    return source, selector


def _default(factory, name: str, fallback: Any) -> Any:
    param = inspect.signature(factory).parameters.get(name)
    return fallback if param is None or param.default is inspect.Parameter.empty else param.default
