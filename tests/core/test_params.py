"""A factory's signature as its parameters: listing, type checks, errors with the nearest names first."""

from __future__ import annotations

from typing import Literal

import pytest

from ssl_core.errors import ParamError
from ssl_core.params import describe_type, factory_params, literal_choices, nearest_first, type_matches, validate_params


class Widget:
    def __init__(self, size: int, mode: Literal["fast", "slow"] = "fast", scale: float = 1.0,
                 shape: tuple[int, int] = (1, 2), tags: list[str] | None = None, encoder=None):
        pass


def test_factory_params_list_the_user_parameters_without_the_context_ones():
    params = factory_params(Widget, context=("encoder",))
    assert [p.name for p in params] == ["size", "mode", "scale", "shape", "tags"]
    assert params[0].required and params[0].describe() == "size: int"
    assert params[1].describe() == "mode: 'fast' | 'slow' = 'fast'"
    assert describe_type(tuple[int, int]) == "tuple[int, int]" and describe_type(list[str] | None) == "list[str] | null"


@pytest.mark.parametrize("value, annotation, ok", [
    (3, int, True), (True, int, False), (3, float, True), (False, float, False), ("fast", Literal["fast"], True),
    ([1, 2], tuple[int, int], True), ([1, 2, 3], tuple[int, int], False), (["a"], list[str], True),
    ([1], list[str], False), (None, list[str] | None, True), ({"a": 1}, dict, True),
])
def test_type_matches_yaml_values(value, annotation, ok):
    assert type_matches(value, annotation) is ok


def test_validate_params_names_the_key_and_the_valid_choices():
    assert validate_params(Widget, {"size": 2, "mode": "slow"}, ("encoder",)) == {"size": 2, "mode": "slow"}
    with pytest.raises(ParamError) as unknown:
        validate_params(Widget, {"size": 2, "scael": 1.0}, ("encoder",))
    assert unknown.value.key == "scael" and unknown.value.choices[0] == "scale"
    with pytest.raises(ParamError, match="parameter 'mode' must be 'fast' | 'slow', got 'fats'") as bad:
        validate_params(Widget, {"size": 2, "mode": "fats"})
    assert bad.value.choices[0] == "'fast'"
    with pytest.raises(ParamError, match="missing required parameter 'size' \\(int\\)"):
        validate_params(Widget, {})
    with pytest.raises(ParamError, match="unknown parameter 'encoder'"):
        validate_params(Widget, {"size": 1, "encoder": 1}, ("encoder",))  # context is never the file's


def test_nearest_first_and_literal_choices():
    assert nearest_first("epoch", ["lr", "epochs", "batch_size"])[0] == "epochs"
    assert literal_choices(Widget, "mode") == ("fast", "slow") and literal_choices(Widget, "size") is None
