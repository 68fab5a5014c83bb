"""``ssl-core run A.yaml B.yaml [overrides]``: each pipeline in turn, then one comparison table."""

from __future__ import annotations

import pytest

from ssl_core.cli import main, split_pipelines

from pipeline_helpers import tiny_pipeline

EVALUATE = "\nevaluate:\n  - name: knn\n    params: {k: 5}\n"


def test_pipelines_come_first_then_the_overrides():
    assert split_pipelines("a.yaml", ["b.yml", "train.epochs=2", "seed=1"]) == (["a.yaml", "b.yml"], ["train.epochs=2", "seed=1"])
    assert split_pipelines("a.yaml", []) == (["a.yaml"], [])


@pytest.mark.parametrize("rest, message", [
    (["train.epochs=2", "b.yaml"], "'b.yaml' follows the overrides"),
    (["train.epochs"], "'train.epochs' is neither a pipeline file"),
])
def test_a_misplaced_item_is_a_clear_error(rest, message):
    with pytest.raises(ValueError, match=message):
        split_pipelines("a.yaml", rest)


def test_two_pipelines_run_in_turn_and_are_compared(tmp_path, capsys):
    first = tiny_pipeline(tmp_path, output="first", extra=EVALUATE)
    second = tiny_pipeline(tmp_path, output="second", extra=EVALUATE)
    second.write_text(second.read_text().replace("width: 4", "width: 6"))
    assert main(["run", str(first), str(second), "train.max_steps=2"]) == 0
    printed = capsys.readouterr().out
    for run in ("first", "second"):
        assert (tmp_path / run / "results.json").is_file()
    comparison = (tmp_path / "comparison" / "comparison.md").read_text()
    assert "| knn | top1 | pretrained |" in comparison and "encoder.params.width" in comparison
    assert comparison.strip() in printed  # the table is printed at the end
    assert "comparison of 2 runs written" in printed


def test_a_bad_item_runs_nothing(tmp_path, capsys):
    first = tiny_pipeline(tmp_path, output="first")
    assert main(["run", str(first), "train.max_steps=1", "extra"]) == 2
    assert "neither a pipeline file" in capsys.readouterr().err
    assert not (tmp_path / "first").exists()
