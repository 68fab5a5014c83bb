"""The README's quick start stays true: CI runs its test command, and the pipeline it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "ssl-core run" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = quick_start_commands()[1].replace("python3.11", "${PY}")
    assert test_command in ci


def test_quick_start_pipelines_exist():
    pipelines = [w for w in quick_start_commands()[0].split("ssl-core run ", 1)[1].split() if w.endswith(".yaml")]
    assert pipelines and all((ROOT / p).is_file() for p in pipelines), pipelines
