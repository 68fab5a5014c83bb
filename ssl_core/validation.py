"""Validation of a pipeline's values: the schema, the component names and each component's parameters.

Every error names the file, the line, the dotted key and, where there is a
closed set, the valid choices with the nearest match first.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ssl_core.errors import ParamError, UnknownComponentError
from ssl_core.params import describe_type, literal_choices, nearest_first, type_matches, validate_params
from ssl_core.registry import CONTEXT_PARAMS, Registry
from ssl_core.schema import DATA, RANGES, SCHEMA, Component, ComponentList, Field

if TYPE_CHECKING:
    from ssl_core.config import Config

Path_ = tuple  # a dotted key as a tuple of str / int parts


class Validator:
    """Checks one pipeline's values against the schema and the registry, raising errors that name the line."""

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


def _numeric_text_hint(value: Any) -> str:
    """For a float YAML read as text: YAML 1.1 wants a dot and a signed exponent (``1e-3`` is a string)."""
    if not isinstance(value, str) or "e" not in value.lower():
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    return f"; YAML reads {value!r} as text: write {number:.1e}" if math.isfinite(number) else ""


def check_numbers(node: Any, path: Path_, config: Config) -> None:
    """Every number of the pipeline, component parameters included, is finite and fits in 64 bits."""
    if isinstance(node, dict):
        for key, value in node.items():
            check_numbers(value, path + (key,), config)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_numbers(value, path + (i,), config)
    elif isinstance(node, float) and not math.isfinite(node):
        raise config.error(path, f"must be a finite number, got {node}")
    elif isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**63:
        raise config.error(path, f"{node:.3g} is out of range (numbers must fit in 64 bits)")


def validate(data: Any, config: Config, registry: Registry) -> dict:
    """Check ``data`` against ``SCHEMA``, the component names and their params; fill defaults."""
    check_numbers(data, (), config)
    validator = Validator(config, registry)
    values = validator.section(data, SCHEMA, ())
    validator.dataset(values["data"]["dataset"], values["data"]["params"], ("data", "params"))
    validator.params("objective", values["objective"]["name"], values["objective"]["params"], ("objective", "params"))
    if values["output"] is None:
        values["output"] = str(Path("runs") / values["name"])
    check_ranges(values, config)
    return values


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
