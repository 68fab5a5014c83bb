"""Pipeline YAML: every key's line; aliases, duplicate keys and deep nesting refused with the line."""

from __future__ import annotations

import pytest

from ssl_core.errors import ConfigError
from ssl_core.yaml_lines import MAX_DEPTH, parse_yaml


def test_lines_of_keys_and_list_items():
    data, lines = parse_yaml("name: a\ntrain:\n  epochs: 3\nevaluate:\n  - knn\n  - {name: linear_probe}\n", "p.yaml")
    assert data["train"] == {"epochs": 3}
    assert lines[("name",)] == 1 and lines[("train", "epochs")] == 3
    assert lines[("evaluate", 0)] == 5 and lines[("evaluate", 1, "name")] == 6


@pytest.mark.parametrize("text, message", [
    ("a: 1\nb:\n  c: 2\n  c: 3\n", "p.yaml:4: duplicate key 'b.c' \\(first at line 3\\)"),
    ("a: &x {b: 1}\nc: *x\n", "p.yaml:2: anchors and aliases are not allowed"),
    ("a: [1\n", "p.yaml:2: not valid YAML"),
    ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", f"nested more than {MAX_DEPTH} deep"),
])
def test_refused_with_the_line(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_yaml(text, "p.yaml")
