"""ssl-core: self-supervised representation learning on images and speech, by plugins."""

from ssl_core.api import load_run
from ssl_core.hookspecs import hookimpl
from ssl_core.registry import Registry, make_registry, registry

__version__ = "0.1.0"

__all__ = ["Registry", "hookimpl", "load_run", "make_registry", "registry", "run", "__version__"]


def __getattr__(name):
    # ``ssl_core.run`` is the module ssl_core/run.py, callable as ``ssl_core.run(pipeline, overrides=...)``
    # (ssl_core.api.run); imported on first use so that ``import ssl_core`` stays free of Lightning.
    if name == "run":
        import importlib

        return importlib.import_module("ssl_core.run")
    raise AttributeError(f"module 'ssl_core' has no attribute '{name}'")
