"""Which installed distribution (and version) provided each component a pipeline uses, for ``results.json``."""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache

from ssl_core.config import Config
from ssl_core.registry import Registry


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distribution_of(module: str) -> tuple[str | None, str | None]:
    """``(distribution, version)`` installing the top-level package of ``module``; ``(None, None)`` if none does."""
    names = _distributions().get(module.split(".")[0]) or []
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def used_components(values: dict, registry: Registry) -> list[tuple[str, str]]:
    """``(kind, name)`` of every component the resolved pipeline ``values`` uses, in pipeline order, once each.

    The negative source is the objective's default one when the pipeline names none.
    """
    used = [("dataset", values["data"]["dataset"]), ("views", values["views"]["name"]),
            ("encoder", values["encoder"]["name"]), ("objective", values["objective"]["name"])]
    negatives = values["objective"]["negatives"]
    default_sources = getattr(registry.get("objective", values["objective"]["name"]).factory, "sources", ())
    if negatives.get("source"):
        used.append(("sampler", negatives["source"]["name"]))
    elif default_sources:
        used.append(("sampler", default_sources[0]))
    if negatives.get("select"):
        used.append(("selector", negatives["select"]["name"]))
    for spec in values["evaluate"]:
        used.append(("evaluator", spec["name"]))
        if spec.get("data"):
            used.append(("dataset", spec["data"]["dataset"]))
    return list(dict.fromkeys(used))


def component_versions(config: Config, registry: Registry) -> list[dict]:
    """Per component used: its plugin, the module of its factory and the distribution and version installing it."""
    rows = []
    for kind, name in used_components(config.values, registry):
        component = registry.get(kind, name)
        module = getattr(component.factory, "__module__", "") or ""
        distribution, version = distribution_of(module)
        rows.append({"kind": kind, "name": name, "plugin": component.plugin, "module": module,
                     "distribution": distribution, "version": version})
    return rows
