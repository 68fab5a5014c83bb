"""Plugins add ssl-core subcommands through the hook ssl_core_add_commands (as pytest_addoption)."""

from __future__ import annotations

import sys

import pytest

import ssl_core
from ssl_core import make_registry
from ssl_core.cli import build_parser, main
from ssl_core.errors import SslCoreError


def hello(args) -> int:
    if args.who == "nobody":
        raise SslCoreError("nobody to greet: pass a name")
    print(f"hello {args.who}")
    return 0


class HelloPlugin:
    @ssl_core.hookimpl
    def ssl_core_add_commands(self, subparsers):
        cmd = subparsers.add_parser("hello", help="greet someone")
        cmd.add_argument("who")
        cmd.set_defaults(func=hello)


class GreedyPlugin:
    """Adds ``greet`` and then ``run``, which the core already has: neither may stay."""

    @ssl_core.hookimpl
    def ssl_core_add_commands(self, subparsers):
        subparsers.add_parser("greet", help="half added").set_defaults(func=hello)
        subparsers.add_parser("run", help="taken").set_defaults(func=hello)


@pytest.fixture()
def with_plugins(monkeypatch):
    registry = make_registry([HelloPlugin(), GreedyPlugin()], autoload=False, warn=False)
    monkeypatch.setattr(sys.modules["ssl_core.registry"], "_default", registry)
    return registry


def test_a_plugin_command_runs_and_its_errors_are_one_line(with_plugins, capsys):
    with pytest.warns(UserWarning, match="its commands were not added: ArgumentError"):
        assert main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    with pytest.warns(UserWarning):
        assert main(["hello", "nobody"]) == 2
    assert capsys.readouterr().err == "ssl-core: error: nobody to greet: pass a name\n"


def test_a_hook_that_takes_a_core_name_adds_nothing_and_the_core_command_stays(with_plugins):
    with pytest.warns(UserWarning, match="GreedyPlugin|conflicting subparser: run"):
        parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "greet" not in sub.choices and "hello" in sub.choices
    assert sub.choices["run"].get_default("func").__name__ == "_cmd_run"
    assert [a.dest for a in sub._choices_actions].count("run") == 1 and "greet" not in [a.dest for a in sub._choices_actions]


def test_the_nac_plugin_adds_codes_and_the_core_has_no_codes_of_its_own():
    registry = make_registry(autoload=False, warn=False)
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sub.choices["codes"].get_default("func").__module__ == "ssl_nac.codes_command"
    names = [impl.plugin_name for impl in registry.plugin_manager.hook.ssl_core_add_commands.get_hookimpls()]
    assert names == ["ssl_nac.plugin"]
