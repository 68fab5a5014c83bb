"""Command-line overrides of a pipeline: ``key=value`` with a dotted key and a YAML value."""

from __future__ import annotations

from typing import Any

import yaml

from ssl_core.errors import ConfigError

Path_ = tuple  # a dotted key as a tuple of str / int parts


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


def apply_override(data: dict, path: Path_, value: Any, text: str) -> None:
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
