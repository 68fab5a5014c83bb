"""ssl-core: self-supervised representation learning on images and speech, by plugins."""

from ssl_core.hookspecs import hookimpl
from ssl_core.registry import Registry, make_registry, registry

__version__ = "0.1.0"

__all__ = ["Registry", "hookimpl", "make_registry", "registry", "__version__"]
