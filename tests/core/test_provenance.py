"""ssl_core.provenance: the components a pipeline uses, and the distribution and version providing each."""

from __future__ import annotations

import importlib.metadata
from types import SimpleNamespace

import pluggy
import pytest

import ssl_core.provenance as provenance
from ssl_core.provenance import component_versions, distribution_of, used_components


class Objective:
    sources = ("queue", "in_batch")  # the first is the default negative source


class NoSources:
    pass


def factory_in(module: str):
    def factory():
        pass

    factory.__module__ = module
    return factory


class FakeRegistry:
    """``get(kind, name)``: a component with a factory and a plugin, as :class:`ssl_core.registry.Registry` gives."""

    def __init__(self, factories: dict | None = None):
        self.factories = factories or {}

    def get(self, kind, name):
        factory = self.factories.get((kind, name)) or {"moco": Objective, "byol": NoSources}.get(name) \
            or factory_in(f"plugin_{kind}.{name}")
        return SimpleNamespace(factory=factory, plugin=f"{kind}s.plugin")


def values(objective="moco", negatives=None, evaluate=()):
    return {"data": {"dataset": "cifar10", "params": {}}, "views": {"name": "simclr_views"},
            "encoder": {"name": "resnet18"}, "objective": {"name": objective, "negatives": negatives or {}},
            "evaluate": list(evaluate)}


def test_the_default_negative_source_is_the_objective_s_first():
    assert used_components(values(), FakeRegistry()) == [
        ("dataset", "cifar10"), ("views", "simclr_views"), ("encoder", "resnet18"), ("objective", "moco"),
        ("sampler", "queue")]


def test_an_objective_without_sources_uses_no_sampler():
    assert ("sampler", "queue") not in used_components(values("byol"), FakeRegistry())
    assert [kind for kind, _ in used_components(values("byol"), FakeRegistry())] == [
        "dataset", "views", "encoder", "objective"]


def test_named_source_selector_and_evaluators_with_their_data_once_each_in_order():
    negatives = {"source": {"name": "memory_bank"}, "select": {"name": "ring"}}
    evaluate = [{"name": "knn"}, {"name": "linear_probe", "data": {"dataset": "stl10"}},
                {"name": "knn", "data": {"dataset": "cifar10"}}, {"name": "transfer", "data": {"dataset": "stl10"}}]
    assert used_components(values(negatives=negatives, evaluate=evaluate), FakeRegistry()) == [
        ("dataset", "cifar10"), ("views", "simclr_views"), ("encoder", "resnet18"), ("objective", "moco"),
        ("sampler", "memory_bank"), ("selector", "ring"), ("evaluator", "knn"), ("evaluator", "linear_probe"),
        ("dataset", "stl10"), ("evaluator", "transfer")]


def test_distribution_of_a_module_is_its_top_level_package_s():
    assert distribution_of("torch.nn.modules.linear") == ("torch", importlib.metadata.version("torch"))
    assert distribution_of("pluggy") == ("pluggy", pluggy.__version__)
    assert distribution_of("") == (None, None)


def test_a_distribution_no_longer_installed_is_passed_over(monkeypatch):
    monkeypatch.setattr(provenance, "_distributions", lambda: {"shared": ["gone-dist", "pluggy"], "lost": ["gone"]})
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("gone-dist")
    assert distribution_of("shared.sub") == ("pluggy", pluggy.__version__)
    assert distribution_of("lost.sub") == (None, None)


def test_component_versions_one_row_per_component():
    registry = FakeRegistry({("encoder", "resnet18"): factory_in("pluggy._hooks"),
                             ("dataset", "cifar10"): factory_in("no_such_top_level_package.data")})
    config = SimpleNamespace(values=values("byol"))
    rows = component_versions(config, registry)
    assert [(r["kind"], r["name"]) for r in rows] == [("dataset", "cifar10"), ("views", "simclr_views"),
                                                      ("encoder", "resnet18"), ("objective", "byol")]
    by = {r["kind"]: r for r in rows}
    assert by["encoder"] == {"kind": "encoder", "name": "resnet18", "plugin": "encoders.plugin",
                             "module": "pluggy._hooks", "distribution": "pluggy", "version": pluggy.__version__}
    assert by["dataset"]["module"] == "no_such_top_level_package.data"
    assert (by["dataset"]["distribution"], by["dataset"]["version"]) == (None, None)
    assert by["objective"]["module"] == __name__  # a class: its module


def test_the_real_registry_names_ssl_core_s_own_components():
    import ssl_core

    registry = ssl_core.registry()
    config = SimpleNamespace(values={
        "data": {"dataset": "digits", "params": {}}, "views": {"name": "digits"}, "encoder": {"name": "small_cnn"},
        "objective": {"name": "simclr", "negatives": {}}, "evaluate": [{"name": "knn"}]})
    rows = {(r["kind"], r["name"]): r for r in component_versions(config, registry)}
    assert set(rows) == {("dataset", "digits"), ("views", "digits"), ("encoder", "small_cnn"), ("objective", "simclr"),
                         ("sampler", "in_batch"), ("evaluator", "knn")}
    assert rows[("objective", "simclr")]["module"] == "ssl_contrastive.simclr"
