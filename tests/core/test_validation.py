"""Validation rules that factories declare (component_params, wraps_dataset) and the numeric checks."""

from __future__ import annotations

from typing import Literal

import pytest

import ssl_core
from ssl_core import make_registry
from ssl_core.config import load_config_text
from ssl_core.errors import ConfigError


class Base:
    num_classes = 2

    def __init__(self, split: Literal["train", "test"] = "train", size: int = 4):
        self.split = split


class Wrapper:
    wraps_dataset = {"name": "inner", "params": "inner_params", "splits": "splits"}

    def __init__(self, inner: str = "base", inner_params: dict | None = None, splits: list[str] | None = None,
                 split: str = "train", registry=None):
        pass


class Probe:
    component_params = {"views": "views"}

    def __init__(self, views: str | dict | None = None):
        pass


class Plugin:
    @ssl_core.hookimpl
    def ssl_core_datasets(self):
        return {"base": Base, "wrapper": Wrapper}

    @ssl_core.hookimpl
    def ssl_core_evaluators(self):
        return {"probe": Probe}


PIPELINE = """\
name: v
data:
  dataset: {dataset}
  params: {params}
views: digits
encoder: small_cnn
objective: {{name: simclr}}
evaluate:
  - name: probe
    params: {probe}
"""


@pytest.fixture(scope="module")
def registry():
    return make_registry([Plugin()], autoload=False, warn=False)


def load(registry, dataset="base", params="{}", probe="{}"):
    return load_config_text(PIPELINE.format(dataset=dataset, params=params, probe=probe), "v.yaml", registry=registry)


def test_a_wrapped_datasets_name_params_and_splits_are_checked_at_their_lines(registry):
    assert load(registry, "wrapper", "{inner: base, inner_params: {size: 2}, splits: [test]}").values["data"]["dataset"] == "wrapper"
    with pytest.raises(ConfigError, match="v.yaml:4: .*data.params.inner.*unknown dataset 'bsae'"):
        load(registry, "wrapper", "{inner: bsae}")
    with pytest.raises(ConfigError, match="v.yaml:4: .*dataset 'base': unknown parameter 'sise'"):
        load(registry, "wrapper", "{inner: base, inner_params: {sise: 2}}")
    with pytest.raises(ConfigError, match="'val' is not a split of the dataset 'base'; valid choices: t"):
        load(registry, "wrapper", "{inner: base, splits: [val]}")


def test_a_parameter_that_is_a_component_reference_is_validated_as_one(registry):
    assert load(registry, probe="{views: {name: digits, params: {}}}").values["evaluate"][0]["params"]["views"]
    with pytest.raises(ConfigError, match="v.yaml:10: .*unknown views 'digts'"):
        load(registry, probe="{views: digts}")


@pytest.mark.parametrize("override, message", [
    ("data.params.size=.inf", "must be a finite number"),
    ("data.params.size=100000000000000000000", "out of range \\(numbers must fit in 64 bits\\)"),
    ("train.epochs=0", "train.epochs.*must lie in \\[1, 10000000\\]"),
    ("train.devices=0", "must be a count in \\[1, 4096\\]"),
])
def test_numbers_are_finite_64_bit_and_in_range(registry, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config_text(PIPELINE.format(dataset="base", params="{}", probe="{}"), "v.yaml", [override], registry)
