"""Component parameters: read from a factory's signature, validated against its annotations."""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, Union

from ssl_core.errors import ParamError

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One parameter of a component factory."""

    name: str
    annotation: Any
    default: Any

    @property
    def required(self) -> bool:
        return self.default is _EMPTY

    def describe(self) -> str:
        text = f"{self.name}: {describe_type(self.annotation)}"
        return text if self.required else f"{text} = {self.default!r}"


def nearest_first(word: str, choices: typing.Iterable[str]) -> list[str]:
    """Sort ``choices`` so that the ones closest to ``word`` come first."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=len(choices), cutoff=0.0)
    return close + [c for c in choices if c not in close]


def factory_params(factory: Callable, context: typing.Iterable[str] = ()) -> list[Param]:
    """The user-facing parameters of ``factory`` (its keyword params minus context ones)."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolved forward references: fall back to raw annotations
        hints = {}
    params = []
    for p in inspect.signature(factory).parameters.values():
        if p.name in context or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params.append(Param(p.name, hints.get(p.name, p.annotation), p.default))
    return params


def accepts(factory: Callable, name: str) -> bool:
    """Whether ``factory`` takes a keyword parameter ``name``."""
    return name in inspect.signature(factory).parameters


def describe_type(annotation: Any) -> str:
    if annotation is _EMPTY or annotation is Any:
        return "any"
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(describe_type(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else describe_type(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def type_matches(value: Any, annotation: Any) -> bool:
    """Whether a YAML value fits ``annotation`` (int is accepted for float, never bool for int)."""
    if annotation is _EMPTY or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return value in args
    if origin in (Union, types.UnionType):
        return any(type_matches(value, a) for a in args)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin in (list, tuple, typing.Sequence, __import__("collections.abc").abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(type_matches, value, args))
        inner = args[0] if args else Any
        return all(type_matches(v, inner) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def validate_params(factory: Callable, params: dict, context: typing.Iterable[str] = ()) -> dict:
    """Check ``params`` against ``factory``'s signature; return them unchanged if valid.

    Raises:
        ParamError: for an unknown key (with the valid keys, nearest first), a
            value of the wrong type, or a missing required parameter.
    """
    known = {p.name: p for p in factory_params(factory, context)}
    for key, value in params.items():
        if key not in known:
            raise ParamError(key, f"unknown parameter '{key}'", nearest_first(key, known))
        p = known[key]
        if not type_matches(value, p.annotation):
            choices = [repr(a) for a in typing.get_args(p.annotation)] if typing.get_origin(p.annotation) is Literal else []
            raise ParamError(
                key,
                f"parameter '{key}' must be {describe_type(p.annotation)}, got {value!r} ({type(value).__name__})",
                nearest_first(repr(value), choices) if choices else None,
            )
    for p in known.values():
        if p.required and p.name not in params:
            raise ParamError(p.name, f"missing required parameter '{p.name}' ({describe_type(p.annotation)})")
    return params


def literal_choices(factory: Any, name: str) -> tuple | None:
    """The values the parameter ``name`` of ``factory`` accepts when it is annotated ``Literal[...]``, else ``None``."""
    import typing

    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except Exception:  # unresolved forward references
        return None
    hint = hints.get(name)
    return tuple(typing.get_args(hint)) if typing.get_origin(hint) is Literal else None
