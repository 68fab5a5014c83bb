"""Training a pipeline into its run folder, from scratch or resumed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from ssl_core.checkpoint_io import atomic_torch_save, atomic_write_text
from ssl_core.config import Config
from ssl_core.epoch_sampler import EpochSampler, ResumableLoader
from ssl_core.multi_view_dataset import MultiViewDataset
from ssl_core.pipeline import build_pipeline
from ssl_core.registry import Registry
from ssl_core.run_folder import LAST_CHECKPOINT, MODEL_FILE, PIPELINE_FILE, check_run_folder, run_dir_of
from ssl_core.trainer import SSLModule, make_trainer



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
    check_run_folder(config, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Written atomically: a run killed while writing it must still resume (the next --resume compares it).
    atomic_write_text(saved, resolved)
    for stale in checkpoint.parent.glob(f".{checkpoint.name}.tmp*"):  # left by a run killed mid-write; never loaded
        stale.unlink(missing_ok=True)

    pipeline = build_pipeline(config, registry)
    train_cfg = config.values["train"]
    sampler = EpochSampler(len(pipeline.train_data), train_cfg["batch_size"], config.values["seed"])
    loader = ResumableLoader(MultiViewDataset(pipeline.train_data, pipeline.views, config.values["seed"]), sampler,
                             num_workers=config.values["data"]["num_workers"])
    module = SSLModule(pipeline.objective, train_cfg, sampler, run_dir / "checkpoints")
    trainer = make_trainer(train_cfg, run_dir, callbacks, config.values["name"])
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


class _CallableModule(type(json)):
    """This module is also ``ssl_core.run(pipeline, overrides=...)``, the Python API's entry point (:func:`ssl_core.api.run`)."""

    def __call__(self, *args, **kwargs):
        from ssl_core.api import run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
