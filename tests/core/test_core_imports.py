"""The core imports no plugin and no modality: every method, encoder and data type reaches it through the hooks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "ssl_core"
FORBIDDEN = {"ssl_contrastive", "ssl_ring", "ssl_nac", "ssl_encoders", "ssl_eval", "ssl_image", "ssl_speech", "ssl_la"}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every ``import`` / ``from ... import`` in the file, functions' bodies included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value).split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_imports_no_plugin_or_modality(path):
    assert not imported_packages(path) & FORBIDDEN


def test_the_check_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ssl_nac.activation_codes import run_codes\n    import importlib\n"
                     "    importlib.import_module('ssl_eval.knn')\n")
    assert imported_packages(probe) & FORBIDDEN == {"ssl_nac", "ssl_eval"}


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_code_names_no_plugin_module_even_as_a_string(path):
    """Not even a module name to import later: the built-ins are declared as entry points in pyproject.toml."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    named = {node.value.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Constant)
             and isinstance(node.value, str) and id(node) not in docstrings and "." in node.value}
    assert not named & FORBIDDEN


def test_the_built_ins_come_from_the_package_metadata():
    from ssl_core.registry import builtin_modules, make_registry

    assert {m.split(".")[0] for m in builtin_modules()} == FORBIDDEN
    registry = make_registry(autoload=False, warn=False)
    assert not registry.load_errors and "nac" in {c.name for c in registry.components("objective")}
