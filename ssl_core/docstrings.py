"""Parameter descriptions read from a factory's Google-style docstring (its ``Args:`` section)."""

from __future__ import annotations

import inspect
import re

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ENTRY = re.compile(r"^(\s*)(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def param_docs(factory) -> dict[str, str]:
    """``{parameter: its one-line description}`` from the ``Args:`` section of ``factory``'s docstring.

    A class's own docstring is read, then its ``__init__``'s; an entry's
    continuation lines are joined, and the description is cut at its first
    sentence end so that it fits on one line.
    """
    docs: dict[str, str] = {}
    sources = [factory, getattr(factory, "__init__", None)] if inspect.isclass(factory) else [factory]
    for source in sources:
        text = inspect.getdoc(source) if source is not None else None
        if text:
            for name, description in _args(text).items():
                docs.setdefault(name, description)
    return docs


def _args(text: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    lines = text.splitlines()
    inside, indent, current = False, None, None
    for line in lines:
        if _SECTION.match(line):
            inside, indent, current = True, None, None
            continue
        if not inside:
            continue
        if line.strip() and not line.startswith(" "):  # the next section (Returns:, Raises:, ...) or prose
            inside = False
            continue
        entry = _ENTRY.match(line)
        if entry and (indent is None or len(entry.group(1)) == indent):
            indent = len(entry.group(1))
            current = entry.group(2)
            out[current] = [entry.group(3).strip()]
        elif current and line.strip():
            out[current].append(line.strip())
    return {name: _one_line(" ".join(parts)) for name, parts in out.items()}


_ABBREVIATIONS = {"eq", "eqs", "sec", "fig", "e.g", "i.e", "al", "cf", "vs", "app", "no"}


def _one_line(text: str) -> str:
    """The first sentence of ``text`` (not cut after "Eq.", "e.g." and the like)."""
    for match in re.finditer(r"[.;]\s+", text):
        word = text[: match.start()].rsplit(" ", 1)[-1].lower().lstrip("(")
        if word not in _ABBREVIATIONS:
            return text[: match.start() + 1].rstrip(";")
    return text
