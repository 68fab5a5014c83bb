"""Pipeline files: read (``yaml_lines``), override (``overrides``), validate (``validation`` against ``schema``).

Every error names the file, the line, the dotted key and, where there is a
closed set, the valid choices with the nearest match first::

    pipeline.yaml:14: unknown key 'train.epoch'; valid choices: epochs, ...

Validation covers the structure (``ssl_core.schema.SCHEMA``), the component names
(against the registry) and each component's parameters (against its
factory's signature), all before anything is built or trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssl_core.errors import ConfigError
from ssl_core.overrides import apply_override, parse_override
from ssl_core.params import literal_choices  # noqa: F401 - importable from here as before
from ssl_core.registry import Registry
from ssl_core.schema import SCHEMA
from ssl_core.validation import validate
from ssl_core.yaml_lines import parse_yaml

Path_ = tuple  # a dotted key as a tuple of str / int parts

__all__ = ["Config", "SCHEMA", "load_config", "load_config_text", "parse_override"]


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
        apply_override(data, key_path, value, text_override)
        config.overrides[key_path] = text_override
    config.values = validate(data, config, registry or default_registry())
    return config
