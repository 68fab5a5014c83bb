"""Pipeline YAML read safely, with the line of every key (no aliases, no duplicate keys, bounded depth)."""

from __future__ import annotations

from typing import Any

import yaml

from ssl_core.errors import ConfigError

Path_ = tuple  # a dotted key as a tuple of str / int parts


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
