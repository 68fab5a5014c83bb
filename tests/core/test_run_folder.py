"""ssl_core.run_folder: where a run goes, and whether its folder can take it (before anything heavy is imported)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from ssl_core.errors import ConfigError
from ssl_core.run_folder import LAST_CHECKPOINT, MODEL_FILE, PIPELINE_FILE, check_run_folder, run_dir_of

VALUES = {"name": "tiny", "seed": 3, "train": {"epochs": 2}}


def config(run_dir: Path, **changes):
    return SimpleNamespace(values={**VALUES, **changes, "output": str(run_dir)})


def started(run_dir: Path, values: dict | None = None) -> Path:
    """A run folder with a checkpoint and the pipeline it started with."""
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / LAST_CHECKPOINT).write_bytes(b"ckpt")
    (run_dir / PIPELINE_FILE).write_text(yaml.safe_dump(values or config(run_dir).values, sort_keys=False))
    return run_dir


def test_file_names():
    assert (PIPELINE_FILE, MODEL_FILE, LAST_CHECKPOINT) == ("pipeline.yaml", "model.pt", "last.ckpt")


def test_run_dir_of_is_the_output():
    assert run_dir_of(config(Path("runs/tiny"))) == Path("runs/tiny")
    assert isinstance(run_dir_of(config(Path("/abs/r"))), Path)


def test_an_absent_or_empty_folder_takes_a_new_run(tmp_path):
    check_run_folder(config(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("other files do not count")
    check_run_folder(config(tmp_path / "empty"))
    assert not (tmp_path / "absent").exists()  # checking creates nothing


@pytest.mark.parametrize("made", ["checkpoint", "model"])
def test_a_folder_holding_a_run_is_refused_without_resume(tmp_path, made):
    run_dir = tmp_path / "run"
    if made == "checkpoint":
        started(run_dir)
    else:
        run_dir.mkdir()
        (run_dir / MODEL_FILE).write_bytes(b"weights")
    with pytest.raises(ConfigError) as info:
        check_run_folder(config(run_dir))
    assert str(info.value) == (f"the run folder {run_dir} already holds a run; add --resume to continue it, "
                               f"or choose another folder with output=runs/<new name>")


def test_resume_needs_a_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / MODEL_FILE).write_bytes(b"weights")  # a model but no checkpoint: nothing to resume
    with pytest.raises(ConfigError, match=f"^--resume: no checkpoint at {run_dir / 'checkpoints' / LAST_CHECKPOINT}; "
                                          f"start the run without --resume$"):
        check_run_folder(config(run_dir), resume=True)


def test_resume_with_the_same_pipeline(tmp_path):
    run_dir = started(tmp_path / "run")
    check_run_folder(config(run_dir), resume=True)
    (run_dir / PIPELINE_FILE).unlink()  # killed before pipeline.yaml was written: nothing to compare
    check_run_folder(config(run_dir), resume=True)


def test_resume_with_another_pipeline_is_refused_naming_the_saved_one(tmp_path):
    run_dir = started(tmp_path / "run")
    with pytest.raises(ConfigError) as info:
        check_run_folder(config(run_dir, train={"epochs": 3}), resume=True)
    assert str(info.value) == (f"--resume: the pipeline differs from the one the run in {run_dir} started with "
                               f"({run_dir / PIPELINE_FILE}); resume with the same file and overrides, or choose "
                               f"another output=")


def test_a_folder_holding_only_previous_ckpt_is_a_started_run(tmp_path):
    """run --resume falls back to previous.ckpt, so validate and run agree: such a folder resumes, and is not reused."""
    from ssl_core.config import load_config
    from ssl_core.errors import ConfigError
    from ssl_core.run_folder import check_run_folder

    from pipeline_helpers import tiny_pipeline

    config = load_config(tiny_pipeline(tmp_path))
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "previous.ckpt").write_bytes(b"x")
    check_run_folder(config, resume=True)  # accepted
    with pytest.raises(ConfigError, match="already holds a run"):
        check_run_folder(config)
