"""Registry: discovery of built-in and entry-point plugins, duplicates, broken plugins, params."""

from __future__ import annotations

import sys

import pytest

from ssl_core import make_registry
from ssl_core.errors import ParamError, PluginError, UnknownComponentError

from pipeline_helpers import fake_distribution

GOOD = """
from ssl_core import hookimpl
class Echo:
    '''An evaluator that reports a constant.'''
    def __init__(self, value: float = 1.0):
        self.value = value
    def evaluate(self, ctx):
        return {"metrics": {"value": self.value}}
@hookimpl
def ssl_core_evaluators():
    return {"echo": Echo}
"""

DUPLICATE = """
from ssl_core import hookimpl
@hookimpl
def ssl_core_objectives():
    return {"simclr": object}
"""

BROKEN = """
raise ImportError("needs a package that is not installed")
"""

MALFORMED = """
from ssl_core import hookimpl
@hookimpl
def ssl_core_datasets():
    return ["not", "a", "dict"]
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield path
    for name in ("good_plugin", "dup_plugin", "broken_plugin", "malformed_plugin"):
        sys.modules.pop(name, None)


def test_builtins_are_discovered_without_entry_points():
    registry = make_registry(autoload=False, warn=False)
    assert "simclr" in registry.names("objective")
    assert {"in_batch", "memory_bank", "queue"} <= set(registry.names("sampler"))
    assert "digits" in registry.names("dataset")
    assert {"linear_probe", "knn"} <= set(registry.names("evaluator"))
    assert registry.get("objective", "simclr").plugin == "ssl_contrastive.plugin"


def test_entry_point_plugin_is_discovered_and_labelled(site):
    fake_distribution(site, "good-dist", "good_plugin", GOOD)
    registry = make_registry(autoload=True, warn=False)
    component = registry.get("evaluator", "echo")
    assert component.plugin == "good-dist:good_plugin"
    assert registry.build("evaluator", "echo", {"value": 2.0}).value == 2.0


def test_autoload_switch_turns_entry_points_off(site, monkeypatch):
    fake_distribution(site, "good-dist", "good_plugin", GOOD)
    monkeypatch.setenv("SSL_CORE_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = make_registry(warn=False)
    assert "echo" not in registry.names("evaluator")
    assert "simclr" in registry.names("objective")


def test_duplicate_name_names_both_plugins(site):
    fake_distribution(site, "dup-dist", "dup_plugin", DUPLICATE)
    with pytest.raises(PluginError) as err:
        make_registry(autoload=True, warn=False)
    message = str(err.value)
    assert "'simclr'" in message and "ssl_contrastive.plugin" in message and "dup-dist:dup_plugin" in message


def test_broken_plugin_is_reported_and_others_still_load(site):
    fake_distribution(site, "broken-dist", "broken_plugin", BROKEN)
    fake_distribution(site, "good-dist", "good_plugin", GOOD)
    with pytest.warns(UserWarning, match="broken-dist"):
        registry = make_registry(autoload=True)
    (error,) = [e for e in registry.load_errors if "broken" in e.plugin]
    assert "broken-dist" in error.message and "broken_plugin" in error.message
    assert "needs a package that is not installed" in error.message
    assert "pip uninstall broken-dist" in error.message
    assert "echo" in registry.names("evaluator") and "simclr" in registry.names("objective")


def test_malformed_component_is_reported_and_ignored(site):
    fake_distribution(site, "malformed-dist", "malformed_plugin", MALFORMED)
    registry = make_registry(autoload=True, warn=False)
    assert any("must return a dict" in e.message for e in registry.load_errors)
    assert "digits" in registry.names("dataset")


def test_unknown_name_lists_nearest_first():
    registry = make_registry(autoload=False, warn=False)
    with pytest.raises(UnknownComponentError) as err:
        registry.get("objective", "simclrr")
    assert "valid choices: simclr" in str(err.value)


def test_build_validates_params():
    registry = make_registry(autoload=False, warn=False)
    with pytest.raises(ParamError) as err:
        registry.build("encoder", "small_cnn", {"widht": 8}, in_channels=1)
    assert err.value.key == "widht" and err.value.choices[0] == "width"
    with pytest.raises(ParamError, match="must be int"):
        registry.build("encoder", "small_cnn", {"width": "wide"}, in_channels=1)
    with pytest.raises(ParamError, match="width must be >= 1"):
        registry.build("encoder", "small_cnn", {"width": 0}, in_channels=1)
    encoder = registry.build("encoder", "small_cnn", {"width": 4}, in_channels=1)
    assert encoder.feature_dim == 16
