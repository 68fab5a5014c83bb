"""Training a pipeline into its run folder, from scratch or resumed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from ssl_core.checkpoint_io import atomic_torch_save, atomic_write_text
from ssl_core.config import Config
from ssl_core.epoch_sampler import EpochSampler, ResumableLoader, TrainedBatches
from ssl_core.errors import ConfigError
from ssl_core.multi_view_dataset import MultiViewDataset
from ssl_core.pipeline import build_pipeline
from ssl_core.registry import Registry
from ssl_core.trainer import LAST_CHECKPOINT, SSLModule, make_trainer

PIPELINE_FILE = "pipeline.yaml"
MODEL_FILE = "model.pt"


def run_dir_of(config: Config) -> Path:
    return Path(config.values["output"])


def train(config: Config, registry: Registry, resume: bool = False, callbacks: list | None = None) -> Path | None:
    """Train ``config`` into its run folder and save the final weights as ``model.pt``.

    Returns the run folder (``None`` on the non-zero ranks of a DDP run).
    With ``resume`` the run continues from ``checkpoints/last.ckpt``: weights,
    optimizer, sampler state (bank, queue), selector step, data position and
    RNG states, so it ends exactly as an uninterrupted run would.

    Raises:
        ConfigError: a finished or started run is in the folder and ``resume`` is off,
            or ``resume`` is on with a different pipeline.
    """
    run_dir = run_dir_of(config)
    checkpoint = run_dir / "checkpoints" / LAST_CHECKPOINT
    saved = run_dir / PIPELINE_FILE
    resolved = yaml.safe_dump(config.values, sort_keys=False)
    if resume:
        if not checkpoint.exists():
            raise ConfigError(f"--resume: no checkpoint at {checkpoint}; start the run without --resume")
        if saved.exists() and yaml.safe_load(saved.read_text()) != config.values:
            raise ConfigError(f"--resume: the pipeline differs from the one the run in {run_dir} started with "
                              f"({saved}); resume with the same file and overrides, or choose another output=")
    elif checkpoint.exists() or (run_dir / MODEL_FILE).exists():
        raise ConfigError(f"the run folder {run_dir} already holds a run; add --resume to continue it, "
                          f"or choose another folder with output=runs/<new name>")
    run_dir.mkdir(parents=True, exist_ok=True)
    # Written atomically: a run killed while writing it must still resume (the next --resume compares it).
    atomic_write_text(saved, resolved)
    for stale in checkpoint.parent.glob(f".{checkpoint.name}.tmp*"):  # left by a run killed mid-write; never loaded
        stale.unlink(missing_ok=True)

    train_cfg = config.values["train"]
    trainer = make_trainer(train_cfg, run_dir, callbacks, data_callbacks=[TrainedBatches()])
    # Under DDP each process reads its own slice of every global batch: the steps per epoch (the selectors'
    # schedules, the learning rate) are those of the global batch, known once the trainer is.
    pipeline = build_pipeline(config, registry, world_size=trainer.world_size)
    sampler = EpochSampler(len(pipeline.train_data), train_cfg["batch_size"], config.values["seed"],
                           world_size=trainer.world_size)
    loader = ResumableLoader(MultiViewDataset(pipeline.train_data, pipeline.views, config.values["seed"]), sampler,
                             num_workers=config.values["data"]["num_workers"])
    module = SSLModule(pipeline.objective, train_cfg, run_dir / "checkpoints")
    started = time.time()
    trainer.fit(module, loader, ckpt_path=str(checkpoint) if resume else None)
    if trainer.interrupted:
        return run_dir
    if trainer.global_rank != 0:  # under DDP the other processes end here; rank 0 saves and evaluates
        return None
    atomic_torch_save(pipeline.objective.state_dict(), run_dir / MODEL_FILE)
    summary = {"global_steps": trainer.global_step, "epochs": trainer.current_epoch,
               "seconds_this_session": round(time.time() - started, 2),
               "final_loss": float(trainer.callback_metrics.get("loss", float("nan")))}
    (run_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return run_dir
