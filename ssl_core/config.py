"""Pipeline files: load with ``yaml.safe_load``, apply ``key=value`` overrides, validate.

Every error names the file, the line, the dotted key and, where there is a
closed set, the valid choices with the nearest match first::

    pipeline.yaml:14: unknown key 'train.epoch'; valid choices: epochs, ...

Validation covers the structure below (``SCHEMA``), the component names
(against the registry) and each component's parameters (against its
factory's signature), all before anything is built or trained.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from ssl_core.errors import ConfigError, ParamError, UnknownComponentError
from ssl_core.params import describe_type, nearest_first, type_matches, validate_params
from ssl_core.registry import CONTEXT_PARAMS, Registry

Path_ = tuple  # a dotted key as a tuple of str / int parts

MAX_WORKERS = 64


@dataclass(frozen=True)
class Field:
    """A leaf of the schema: its type, default, and the component kind it names (if any)."""

    type: Any
    default: Any = None
    required: bool = False
    kind: str | None = None  # the registry kind whose names are valid values
    doc: str = ""


@dataclass(frozen=True)
class Component:
    """A component reference: a name, or ``{name: ..., params: {...}}``."""

    kind: str
    required: bool = True
    doc: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ComponentList:
    """A list of component references (the evaluators), each with optional ``extra`` keys beside name and params."""

    kind: str
    doc: str = ""
    extra: dict = field(default_factory=dict)


DATA: dict = {
    "dataset": Field(str, required=True, kind="dataset", doc="a registered dataset"),
    "params": Field(dict, {}, doc="its parameters"),
}
"""An evaluator's own data, ``{dataset: ..., params: {...}}``, in place of the pipeline's training data."""


SCHEMA: dict = {
    "name": Field(str, required=True, doc="the run's name"),
    "seed": Field(int, 0, doc="seed of everything random: init, data order, views, noise"),
    "modality": Field(str, "image", doc="informational: image | speech"),
    "output": Field((str, type(None)), None, doc="run folder (default runs/<name>)"),
    "data": {
        "dataset": Field(str, required=True, kind="dataset", doc="training dataset"),
        "params": Field(dict, {}, doc="its parameters"),
        "num_workers": Field(int, 0, doc="DataLoader workers"),
    },
    "views": Component("views", doc="the augmentations that make each example's views"),
    "encoder": Component("encoder", doc="the backbone", extra={
        "init_from": Field((str, type(None)), None, doc="start from these weights: a run folder, an encoder state "
                                                        "dict (.pt/.pth) or torchvision (its ImageNet weights, local)")}),
    "objective": {
        "name": Field(str, required=True, kind="objective", doc="the self-supervised objective"),
        "params": Field(dict, {}, doc="its parameters"),
        "negatives": {
            "source": Component("sampler", required=False, doc="negative source; default: the objective's first"),
            "select": Component("selector", required=False, doc="negative selector (e.g. ring); default none"),
        },
    },
    "train": {
        "epochs": Field(int, 100),
        "batch_size": Field(int, 256),
        "max_steps": Field(int, -1, doc="stop after this many steps (-1: run all epochs)"),
        "optimizer": {
            "name": Field(Literal["sgd", "lars", "adam"], "sgd"),
            "lr": Field(float, 0.03),
            "momentum": Field(float, 0.9, doc="SGD / LARS momentum"),
            "nesterov": Field(bool, False),
            "weight_decay": Field(float, 0.0),
            "betas": Field(list[float], [0.9, 0.999], doc="Adam betas"),
        },
        "schedule": {
            "name": Field(Literal["constant", "warmup_cosine", "step"], "constant"),
            "warmup_epochs": Field(float, 0.0),
            "end_lr_fraction": Field(float, 0.0, doc="cosine: final lr / initial lr"),
            "milestones": Field(list[int], [], doc="step: epochs at which the lr is multiplied by gamma"),
            "gamma": Field(float, 0.1),
        },
        "checkpoint_every_n_steps": Field(int, 0, doc="0: at the end of every epoch only"),
        "accelerator": Field(Literal["auto", "cpu", "gpu"], "auto"),
        "devices": Field((int, str), 1),
        "num_nodes": Field(int, 1),
        "strategy": Field(str, "auto", doc="auto | ddp | ddp_spawn ..."),
        "sync_batchnorm": Field(bool, False),
        "precision": Field(str, "32-true"),
        "log_every_n_steps": Field(int, 1),
        "progress_bar": Field(bool, True),
        "detect_anomaly": Field(bool, False),
        "channels_last": Field(bool, True, doc="channels-last layout for the encoders and image batches (faster "
                               "convolutions on CPUs and GPUs; the same losses to float rounding)"),
        "compile": Field(Union[bool, Literal["auto"]], "auto", doc="torch.compile the encoders: true | false | "
                         "auto (compile when the run plans >= 300 steps, where the compile time pays back)"),
        "logger": Field((str, list), "csv", doc="csv | tensorboard | wandb | mlflow, or a list of them"),
    },
    "evaluate": ComponentList("evaluator", doc="evaluators run on the frozen encoder after training",
                              extra={"data": Field((dict, type(None)), None, doc="the evaluator's own data "
                                                   "{dataset: ..., params: {...}} (default: the pipeline's data)")}),
    "eval_options": {
        "random_init_baseline": Field(bool, False, doc="also evaluate a randomly initialised encoder"),
        "batch_size": Field(int, 256),
        "num_workers": Field((int, type(None)), None, doc="DataLoader workers (null: 0 on the CPU, up to 4 beside a GPU)"),
        "device": Field((str, type(None)), None, doc="cpu | cuda | cuda:<index> | mps (null: the training's device)"),
    },
}


@dataclass
class Config:
    """A validated pipeline: the resolved values (defaults filled) and where each key was written."""

    values: dict
    source: str
    lines: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)

    def where(self, path: Path_) -> str:
        """``file:line`` of ``path`` (or of its nearest written parent), or the override that set it."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.overrides:
                return f"{self.source}: command-line override '{self.overrides[path[:n]]}'"
            if path[:n] in self.lines:
                return f"{self.source}:{self.lines[path[:n]]}"
        return self.source

    def error(self, path: Path_, message: str, choices: list[str] | None = None) -> ConfigError:
        key = ".".join(str(p) for p in path)
        text = f"{self.where(path)}: {message}" if key in message else f"{self.where(path)}: key '{key}': {message}"
        if choices:
            text += f"; valid choices: {', '.join(choices)}"
        return ConfigError(text)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _key_lines(node: yaml.Node, path: Path_, lines: dict, seen: set) -> None:
    """Record the 1-based line of every key; refuse aliases (shared nodes) and duplicate keys."""
    if id(node) in seen and isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        raise ConfigError(f"{node.start_mark.line + 1}: anchors and aliases are not allowed in pipeline files; write the values out")
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            if child in lines:  # yaml.safe_load would silently keep the last value
                raise ConfigError(f"{key_node.start_mark.line + 1}: duplicate key '{'.'.join(map(str, child))}' "
                                  f"(first at line {lines[child]}); write each key once")
            lines[child] = key_node.start_mark.line + 1
            _key_lines(value_node, child, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _key_lines(item, path + (i,), lines, seen)


MAX_DEPTH = 64


def parse_yaml(text: str, source: str) -> tuple[Any, dict]:
    """Safe-load ``text`` and return it with the line of every key."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(f"{source}:{event.start_mark.line + 1}: anchors and aliases are not allowed in pipeline files; write the values out")
            depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
            if depth > MAX_DEPTH:  # deeper would take PyYAML seconds to minutes, then overflow Python's stack
                raise ConfigError(f"{source}:{event.start_mark.line + 1}: lists or mappings nested more than {MAX_DEPTH} deep")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines: dict = {}
    if root is not None:
        try:
            _key_lines(root, (), lines, set())
        except ConfigError as exc:
            raise ConfigError(f"{source}:{exc}") from None
    return data, lines


def parse_override(text: str) -> tuple[Path_, Any]:
    """``"train.epochs=5"`` -> ``(("train", "epochs"), 5)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value, e.g. train.epochs=5")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override '{text}' has no key before '='")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    path = tuple(int(p) if p.isdigit() else p for p in key.strip().split("."))
    return path, value


def _apply_override(data: dict, path: Path_, value: Any, text: str) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise ConfigError(f"override '{text}': '{'.'.join(map(str, path[: i + 1]))}' is not an item of the list")
            node = node[part]
            continue
        if not isinstance(node.get(part), (dict, list)):
            node[part] = {"name": node[part], "params": {}} if isinstance(node.get(part), str) and path[i + 1] in ("name", "params") else {}
        node = node[part]
    if isinstance(node, list):
        if not isinstance(path[-1], int) or path[-1] >= len(node):
            raise ConfigError(f"override '{text}': no list item {path[-1]}")
    node[path[-1]] = value


class _Validator:
    def __init__(self, config: Config, registry: Registry):
        self.config = config
        self.registry = registry

    def section(self, value: Any, schema: dict, path: Path_) -> dict:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.config.error(path, f"must be a mapping of {', '.join(schema)}, got {value!r:.60}")
        for key in value:
            if key not in schema:
                where = ".".join(map(str, path + (key,)))
                raise self.config.error(path + (key,), f"unknown key '{where}'", nearest_first(str(key), schema))
        return {key: self.node(value.get(key), spec, path + (key,), key in value) for key, spec in schema.items()}

    def node(self, value: Any, spec: Any, path: Path_, present: bool) -> Any:
        if isinstance(spec, dict):
            return self.section(value, spec, path)
        if isinstance(spec, Component):
            return self.component(value, spec, path, present)
        if isinstance(spec, ComponentList):
            return self.component_list(value, spec, path)
        if not present:
            if spec.required:
                raise self.config.error(path, "is required but missing")
            return copy.deepcopy(spec.default)
        types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
        if not any(type_matches(value, t) for t in types):
            choices = None
            if hasattr(spec.type, "__args__") and getattr(spec.type, "__origin__", None) is Literal:
                choices = nearest_first(str(value), [str(a) for a in spec.type.__args__])
            expected = " or ".join(describe_type(t) for t in types)
            raise self.config.error(path, f"must be {expected}, got {value!r:.60} ({type(value).__name__})"
                                    + (_numeric_text_hint(value) if float in types else ""), choices)
        if spec.kind is not None:
            self.known_name(spec.kind, value, path)
        return value

    def known_name(self, kind: str, name: str, path: Path_) -> None:
        try:
            self.registry.get(kind, name)
        except UnknownComponentError:
            raise self.config.error(path, f"unknown {kind} '{name}'",
                                    nearest_first(str(name), self.registry.names(kind)) or ["(none registered)"]) from None

    def component(self, value: Any, spec: Component, path: Path_, present: bool, extra: dict | None = None) -> dict | None:
        if not present or value is None:
            if spec.required:
                raise self.config.error(path, f"is required: name a {spec.kind}", self.registry.names(spec.kind))
            return None
        if isinstance(value, str):
            value = {"name": value, "params": {}}
        if not isinstance(value, dict):
            raise self.config.error(path, f"must be a {spec.kind} name or {{name: ..., params: {{...}}}}, got {value!r:.60}")
        extra = spec.extra if extra is None else extra
        schema = {"name": Field(str, required=True, kind=spec.kind), "params": Field(dict, {}), **extra}
        resolved = self.section(value, schema, path)
        self.params(spec.kind, resolved["name"], resolved["params"], path + ("params",))
        # parameters that are themselves component references (e.g. linear_probe's augment_views)
        for key, kind in getattr(self.registry.get(spec.kind, resolved["name"]).factory, "component_params", {}).items():
            if resolved["params"].get(key) is not None:
                self.component(resolved["params"][key], Component(kind), path + ("params", key), True)
        if resolved.get("data") is not None:
            resolved["data"] = self.section(resolved["data"], DATA, path + ("data",))
            self.dataset(resolved["data"]["dataset"], resolved["data"]["params"], path + ("data", "params"))
        return resolved

    def component_list(self, value: Any, spec: ComponentList, path: Path_) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.config.error(path, f"must be a list of {spec.kind}s, e.g. [linear_probe, knn]")
        return [self.component(item, Component(spec.kind), path + (i,), True, spec.extra) for i, item in enumerate(value)]

    def dataset(self, name: str, params: dict, path: Path_) -> None:
        """The params (at ``path``) of the dataset ``name`` and, for a wrapper, of the dataset it wraps.

        A wrapper's factory says which of its parameters name the wrapped
        dataset, its params and its splits (attribute ``wraps_dataset``, e.g.
        ``retrieval_subset``); those are checked here too, so that a typo
        inside them names its line before anything is built.
        """
        self.params("dataset", name, params, path)
        wraps = getattr(self.registry.get("dataset", name).factory, "wraps_dataset", None)
        if not wraps or not isinstance(params.get(wraps["name"]), str):
            return
        inner = params[wraps["name"]]
        self.known_name("dataset", inner, path + (wraps["name"],))
        inner_params = params.get(wraps["params"]) or {}
        self.dataset(inner, inner_params, path + (wraps["params"],))
        choices = literal_choices(self.registry.get("dataset", inner).factory, "split")
        for i, split in enumerate(params.get(wraps.get("splits", ""), None) or ()):
            if choices is not None and split not in choices:
                raise self.config.error(path + (wraps["splits"], i), f"'{split}' is not a split of the dataset '{inner}'",
                                        nearest_first(str(split), choices))

    def params(self, kind: str, name: str, params: dict, path: Path_) -> None:
        factory = self.registry.get(kind, name).factory
        try:
            validate_params(factory, params, CONTEXT_PARAMS[kind])
        except ParamError as exc:
            raise self.config.error(path + (exc.key,) if exc.key else path, f"{kind} '{name}': {exc.message}", exc.choices) from None


def literal_choices(factory: Any, name: str) -> tuple | None:
    """The values the parameter ``name`` of ``factory`` accepts when it is annotated ``Literal[...]``, else ``None``."""
    import typing

    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except Exception:  # unresolved forward references
        return None
    hint = hints.get(name)
    return tuple(typing.get_args(hint)) if typing.get_origin(hint) is Literal else None


def _numeric_text_hint(value: Any) -> str:
    """For a float YAML read as text: YAML 1.1 wants a dot and a signed exponent (``1e-3`` is a string)."""
    if not isinstance(value, str) or "e" not in value.lower():
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    return f"; YAML reads {value!r} as text: write {number:.1e}" if math.isfinite(number) else ""


def _check_numbers(node: Any, path: Path_, config: Config) -> None:
    """Every number of the pipeline, component parameters included, is finite and fits in 64 bits."""
    if isinstance(node, dict):
        for key, value in node.items():
            _check_numbers(value, path + (key,), config)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_numbers(value, path + (i,), config)
    elif isinstance(node, float) and not math.isfinite(node):
        raise config.error(path, f"must be a finite number, got {node}")
    elif isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**63:
        raise config.error(path, f"{node:.3g} is out of range (numbers must fit in 64 bits)")


def validate(data: Any, config: Config, registry: Registry) -> dict:
    """Check ``data`` against ``SCHEMA``, the component names and their params; fill defaults."""
    _check_numbers(data, (), config)
    validator = _Validator(config, registry)
    values = validator.section(data, SCHEMA, ())
    validator.dataset(values["data"]["dataset"], values["data"]["params"], ("data", "params"))
    validator.params("objective", values["objective"]["name"], values["objective"]["params"], ("objective", "params"))
    if values["output"] is None:
        values["output"] = str(Path("runs") / values["name"])
    check_ranges(values, config)
    return values


RANGES: dict[tuple, tuple[float, float]] = {
    ("seed",): (0, 2**32 - 1),  # what numpy (and Lightning's seed_everything) accept
    ("data", "num_workers"): (0, MAX_WORKERS),
    ("eval_options", "num_workers"): (0, MAX_WORKERS),
    ("eval_options", "batch_size"): (1, 2**20),
    ("train", "epochs"): (1, 10**7),
    ("train", "batch_size"): (1, 2**20),
    ("train", "max_steps"): (-1, 10**12),
    ("train", "num_nodes"): (1, 10**4),
    ("train", "checkpoint_every_n_steps"): (0, 10**12),
    ("train", "log_every_n_steps"): (1, 10**12),
    ("train", "optimizer", "lr"): (0, 10**6),
    ("train", "optimizer", "weight_decay"): (0, 10**3),
    ("train", "schedule", "warmup_epochs"): (0, 10**7),
}
"""Inclusive bounds of numeric keys: a typo such as 1e30 workers is an error, not a fork storm."""


def check_ranges(values: dict, config: Config) -> None:
    import math

    for path, (low, high) in RANGES.items():
        value = values
        for part in path:
            value = value[part]
        if value is None and path == ("eval_options", "num_workers"):
            continue  # the device's default
        if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
            raise config.error(path, f"must lie in [{low}, {high}], got {value!r:.40}")
    from ssl_core.devices import check_device_name
    from ssl_core.loggers import check_loggers

    if (problem := check_loggers(values["train"]["logger"])) is not None:
        raise config.error(("train", "logger"), problem)

    device = values["eval_options"]["device"]
    if device is not None and check_device_name(device):
        raise config.error(("eval_options", "device"), check_device_name(device))
    devices = values["train"]["devices"]
    if isinstance(devices, int) and not 1 <= devices <= 4096 and devices != -1:
        raise config.error(("train", "devices"), f"must be a count in [1, 4096], -1 (all) or a string such as 'auto', got {devices}")


def load_config(path: str | Path, overrides: list[str] = (), registry: Registry | None = None) -> Config:
    """Read, override and validate a pipeline file.

    Raises:
        ConfigError: naming the file, the line, the key and the valid choices.
        FileNotFoundError: if ``path`` does not exist.
    """
    from ssl_core.registry import registry as default_registry

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pipeline file not found: {path.resolve()}")
    text = path.read_text()
    return load_config_text(text, str(path), overrides, registry or default_registry())


def load_config_text(text: str, source: str, overrides: list[str] = (), registry: Registry | None = None) -> Config:
    """:func:`load_config` on text already read (``source`` names it in errors)."""
    from ssl_core.registry import registry as default_registry

    data, lines = parse_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: a pipeline file must be a mapping of {', '.join(SCHEMA)}")
    config = Config({}, source, lines)
    for text_override in overrides:
        key_path, value = parse_override(text_override)
        _apply_override(data, key_path, value, text_override)
        config.overrides[key_path] = text_override
    config.values = validate(data, config, registry or default_registry())
    return config
