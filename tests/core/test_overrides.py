"""key=value overrides: YAML values, dotted keys into mappings and lists, errors naming the override."""

from __future__ import annotations

import pytest

from ssl_core.errors import ConfigError
from ssl_core.overrides import apply_override, parse_override


@pytest.mark.parametrize("text, expected", [
    ("train.epochs=5", (("train", "epochs"), 5)),
    ("train.optimizer.lr=1.0e-3", (("train", "optimizer", "lr"), 0.001)),
    ("evaluate=[knn]", (("evaluate",), ["knn"])),
    ("evaluate.0.params.k=3", (("evaluate", 0, "params", "k"), 3)),
    ("output=", (("output",), "")),
    ("name=a=b", (("name",), "a=b")),
])
def test_parse_override(text, expected):
    assert parse_override(text) == expected


def test_parse_override_errors():
    with pytest.raises(ConfigError, match="must look like key=value"):
        parse_override("train.epochs")
    with pytest.raises(ConfigError, match="has no key before '='"):
        parse_override("=5")


def test_apply_override_into_a_component_named_by_a_string_and_into_lists():
    data = {"encoder": "small_cnn", "evaluate": [{"name": "knn"}]}
    apply_override(data, ("encoder", "params"), {"width": 8}, "encoder.params={width: 8}")
    apply_override(data, ("evaluate", 0, "name"), "linear_probe", "evaluate.0.name=linear_probe")
    assert data == {"encoder": {"name": "small_cnn", "params": {"width": 8}}, "evaluate": [{"name": "linear_probe"}]}
    with pytest.raises(ConfigError, match="override 'evaluate.3.name=x': 'evaluate.3' is not an item of the list"):
        apply_override(data, ("evaluate", 3, "name"), "x", "evaluate.3.name=x")
    with pytest.raises(ConfigError, match="no list item 2"):
        apply_override(data, ("evaluate", 2), "x", "evaluate.2=x")
