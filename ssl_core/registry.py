"""The plugin manager: built-in plugins and entry-point plugins, lookup, build, errors.

Built-in plugins are plain modules registered exactly like third-party ones
(as pytest does with its own plugins); third-party distributions are found
through the ``ssl_core`` entry-point group unless the environment variable
``SSL_CORE_DISABLE_PLUGIN_AUTOLOAD=1`` is set.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import pluggy

from ssl_core import hookspecs
from ssl_core.errors import ParamError, PluginError, SslCoreError, UnknownComponentError
from ssl_core.params import Param, factory_params, nearest_first, validate_params

ENTRY_POINT_GROUP = "ssl_core"
AUTOLOAD_ENV = "SSL_CORE_DISABLE_PLUGIN_AUTOLOAD"

BUILTIN_GROUP = "ssl_core.builtin"
"""Entry-point group of the built-in plugins, declared in ssl-core's own ``pyproject.toml``: the core names no
plugin module in its code. They are registered at start-up whatever ``SSL_CORE_DISABLE_PLUGIN_AUTOLOAD`` says
(it turns off the ``ssl_core`` group of other distributions); an absent one is skipped silently (a partial
install), one that fails to import is reported and skipped."""

CONTEXT_PARAMS: dict[str, tuple[str, ...]] = {
    "objective": ("encoder", "source", "selector", "num_examples"),
    "sampler": ("dim", "num_examples"),
    "selector": ("steps_per_epoch", "max_epochs"),
    "encoder": ("in_channels",),
    "dataset": ("split", "registry"),
    "views": (),
    "evaluator": (),
    "suite": (),
    "export_format": (),
}
"""Per kind, the parameters the pipeline fills (never the pipeline file)."""


@dataclass(frozen=True)
class Component:
    """One registered component: its kind, name, factory and the plugin that provides it."""

    kind: str
    name: str
    factory: Callable
    plugin: str

    def params(self) -> list[Param]:
        return factory_params(self.factory, CONTEXT_PARAMS[self.kind])

    def doc(self) -> str:
        text = inspect.getdoc(self.factory) or ""
        return text.strip().splitlines()[0] if text.strip() else ""


@dataclass(frozen=True)
class LoadError:
    """A plugin that could not be loaded; the others still are."""

    plugin: str
    message: str


class Registry:
    """Every component of every loaded plugin, by kind and name."""

    def __init__(self, plugin_manager: pluggy.PluginManager, labels: dict[int, str], load_errors: list[LoadError]):
        self.plugin_manager = plugin_manager
        self.load_errors = load_errors
        self._components: dict[str, dict[str, Component]] = {kind: {} for kind in hookspecs.KINDS}
        for kind, hook_name in hookspecs.KINDS.items():
            for impl in getattr(plugin_manager.hook, hook_name).get_hookimpls():
                label = labels.get(id(impl.plugin), impl.plugin_name)
                self._collect(kind, hook_name, impl, label)

    def _collect(self, kind: str, hook_name: str, impl, label: str) -> None:
        try:
            provided = impl.function()
        except Exception as exc:
            self.load_errors.append(LoadError(label, f"its hook {hook_name}() raised {type(exc).__name__}: {exc}"))
            return
        if not isinstance(provided, dict) or not all(isinstance(k, str) and callable(v) for k, v in provided.items()):
            self.load_errors.append(
                LoadError(label, f"its hook {hook_name}() must return a dict of name -> factory, got {provided!r:.200}; it was ignored")
            )
            return
        for name, factory in provided.items():
            try:  # its parameters are read from its signature: validation, listing, building
                inspect.signature(factory)
            except (TypeError, ValueError) as exc:
                self.load_errors.append(LoadError(label, f"its {kind} '{name}' has no readable signature ({exc}); it was ignored"))
                continue
            existing = self._components[kind].get(name)
            if existing is not None:
                raise PluginError(
                    f"Two plugins register the {kind} '{name}': '{existing.plugin}' and '{label}'. "
                    f"Uninstall one of them, or rename the {kind} in one plugin."
                )
            self._components[kind][name] = Component(kind, name, factory, label)

    def kinds(self) -> list[str]:
        """The component kinds, in a fixed order."""
        return list(self._components)

    def names(self, kind: str) -> list[str]:
        """The registered names of one kind, sorted."""
        return sorted(self._kind(kind))

    def components(self, kind: str) -> list[Component]:
        return [self._kind(kind)[n] for n in self.names(kind)]

    def _kind(self, kind: str) -> dict[str, Component]:
        if kind not in self._components:
            raise UnknownComponentError(f"unknown component kind '{kind}'; valid kinds: {', '.join(nearest_first(kind, self._components))}")
        return self._components[kind]

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` of ``kind``, or an error listing the valid names, nearest first."""
        components = self._kind(kind)
        if name not in components:
            valid = nearest_first(str(name), components)
            raise UnknownComponentError(
                f"unknown {kind} '{name}'; valid choices: {', '.join(valid) or '(none registered)'}"
            )
        return components[name]

    def build(self, kind: str, name: str, params: dict | None = None, **context: Any) -> Any:
        """Validate ``params`` against the factory's signature and build the component.

        Context values (``encoder``, ``in_channels`` ...) are passed only when the
        factory takes them. A ``ValueError`` raised by the factory (a value out
        of range) becomes a :class:`ParamError` naming the parameter when the
        message starts with it; the errors of a faulty factory (``TypeError``,
        ``ImportError`` ...) or a factory that returns ``None`` become a
        :class:`PluginError` naming the component and its plugin.
        """
        component = self.get(kind, name)
        params = dict(params or {})
        validate_params(component.factory, params, CONTEXT_PARAMS[kind])
        signature = inspect.signature(component.factory).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in signature.values())
        extra = {k: v for k, v in context.items() if takes_all or k in signature}
        if "registry" in CONTEXT_PARAMS[kind] and "registry" in signature:
            extra.setdefault("registry", self)  # wrappers (retrieval_subset) build the datasets they wrap
        try:
            built = component.factory(**params, **extra)
        except ParamError:
            raise
        except ValueError as exc:
            key = next((k for k in params if str(exc).startswith(k)), "")
            raise ParamError(key, f"{kind} '{name}': {exc}") from exc
        except SslCoreError:
            raise
        except (TypeError, AttributeError, KeyError, IndexError, NameError, ImportError, NotImplementedError) as exc:
            raise PluginError(f"the {kind} '{name}' of the plugin '{component.plugin}' failed to build: "
                              f"{type(exc).__name__}: {exc} (a fault of the plugin or a missing dependency of it, "
                              f"not of the pipeline file)") from exc
        if built is None:
            raise PluginError(f"the {kind} '{name}' of the plugin '{component.plugin}' built nothing: its factory returned None")
        return built


def builtin_modules() -> list[str]:
    """The modules of the built-in plugins, in the order ``pyproject.toml`` declares them."""
    return [ep.value for ep in importlib.metadata.entry_points(group=BUILTIN_GROUP)]


def _load_builtins(pm: pluggy.PluginManager, errors: list[LoadError]) -> None:
    modules = builtin_modules()
    if not modules:
        errors.append(LoadError("ssl-core", f"no built-in plugins are declared (entry-point group {BUILTIN_GROUP}): "
                                            "install the package (pip install -e .) rather than running from a "
                                            "source tree without its metadata"))
    for module_name in modules:
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
        except ModuleNotFoundError:  # the package itself is absent (a partial install)
            continue
        try:
            module = importlib.import_module(module_name)
            pm.register(module, name=module_name)
        except Exception as exc:
            errors.append(LoadError(module_name, f"built-in plugin failed to load: {type(exc).__name__}: {exc}"))


def _load_entry_points(pm: pluggy.PluginManager, labels: dict[int, str], errors: list[LoadError]) -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "(unknown distribution)"
        label = f"{dist}:{ep.name}"
        if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            errors.append(
                LoadError(
                    label,
                    f"The plugin '{ep.name}' ({ep.value}) of the distribution '{dist}' could not be loaded: "
                    f"{type(exc).__name__}: {exc}. The other plugins were loaded; fix or uninstall "
                    f"'{dist}' (pip uninstall {dist}), or set {AUTOLOAD_ENV}=1 to load no entry-point plugins.",
                )
            )
            continue
        labels[id(plugin)] = label


def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def make_registry(plugins: Iterable[Any] = (), autoload: bool | None = None, warn: bool = True) -> Registry:
    """Build a fresh registry: built-ins, then entry points (unless disabled), then ``plugins``."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    errors: list[LoadError] = []
    labels: dict[int, str] = {}
    _load_builtins(pm, errors)
    if autoload_enabled() if autoload is None else autoload:
        _load_entry_points(pm, labels, errors)
    for plugin in plugins:
        try:
            pm.register(plugin)
        except Exception as exc:
            errors.append(LoadError(repr(plugin), f"could not be registered: {exc}"))
            continue
        labels[id(plugin)] = getattr(plugin, "__name__", None) or type(plugin).__name__  # not pluggy's id number
    registry = Registry(pm, labels, errors)
    if warn:
        for error in registry.load_errors:
            warnings.warn(f"ssl-core plugin '{error.plugin}' skipped: {error.message}", stacklevel=2)
    return registry


_default: Registry | None = None


def registry(refresh: bool = False) -> Registry:
    """The process-wide registry (built once; ``refresh=True`` rebuilds it)."""
    global _default
    if _default is None or refresh:
        _default = make_registry()
    return _default
