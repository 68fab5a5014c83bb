"""A run folder: its files, and whether it can take a run (checked before anything heavy is imported)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ssl_core.config import Config
from ssl_core.errors import ConfigError

PIPELINE_FILE = "pipeline.yaml"
MODEL_FILE = "model.pt"
LAST_CHECKPOINT = "last.ckpt"
PREVIOUS_CHECKPOINT = "previous.ckpt"  # the fallback when last.ckpt is damaged (ssl_core.checkpoint_io)


def run_dir_of(config: Config) -> Path:
    return Path(config.values["output"])


def check_run_folder(config: Config, resume: bool = False) -> None:
    """The run folder can take this run: empty (or absent) without ``resume``; with it, a checkpoint of the same pipeline.

    Raises:
        ConfigError: a finished or started run is in the folder and ``resume`` is off,
            or ``resume`` is on with no checkpoint or a different pipeline.
    """
    run_dir = run_dir_of(config)
    checkpoint = run_dir / "checkpoints" / LAST_CHECKPOINT
    any_checkpoint = checkpoint.exists() or (run_dir / "checkpoints" / PREVIOUS_CHECKPOINT).exists()
    saved = run_dir / PIPELINE_FILE
    if resume:
        if not any_checkpoint:
            raise ConfigError(f"--resume: no checkpoint at {checkpoint}; start the run without --resume")
        if saved.exists() and yaml.safe_load(saved.read_text()) != config.values:
            raise ConfigError(f"--resume: the pipeline differs from the one the run in {run_dir} started with "
                              f"({saved}); resume with the same file and overrides, or choose another output=")
    elif any_checkpoint or (run_dir / MODEL_FILE).exists():
        raise ConfigError(f"the run folder {run_dir} already holds a run; add --resume to continue it, "
                          f"or choose another folder with output=runs/<new name>")
