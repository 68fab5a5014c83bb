"""Every component kind has a documented hook, an entry of context parameters, and built-ins register under it."""

from __future__ import annotations

import inspect

from ssl_core import hookspecs, make_registry
from ssl_core.registry import CONTEXT_PARAMS


def test_every_kind_has_a_documented_hook_and_its_context_parameters():
    assert set(hookspecs.KINDS) == set(CONTEXT_PARAMS)
    for kind, hook in hookspecs.KINDS.items():
        spec = getattr(hookspecs, hook)
        assert len(inspect.getdoc(spec) or "") > 80, kind
        for name in CONTEXT_PARAMS[kind]:
            assert name in inspect.getdoc(spec) or name == "registry", (kind, name)


def test_the_hooks_that_are_not_kinds_are_documented_and_registered():
    doc = inspect.getdoc(hookspecs.ssl_core_add_commands)
    assert "subparsers.add_parser" in doc and "set_defaults(func=" in doc
    registry = make_registry(autoload=False, warn=False)
    assert {k for k in hookspecs.KINDS if not registry.names(k)} == set()  # built-ins provide every kind
