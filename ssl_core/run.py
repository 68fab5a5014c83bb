"""Training a pipeline into its run folder, from scratch or resumed."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import yaml

from ssl_core.atomic_write import DiskFullError, free_bytes, is_disk_full, remove_stale_temporaries
from ssl_core.checkpoint_io import (LAST_CHECKPOINT, CheckpointError, atomic_torch_save, atomic_write_text,
                                    checkpoint_files, resume_checkpoint, safe_torch_load)
from ssl_core.config import Config
from ssl_core.epoch_sampler import EpochSampler, ResumableLoader, TrainedBatches
from ssl_core.errors import ConfigError
from ssl_core.fast_path import apply_fast_path, should_compile
from ssl_core.multi_view_dataset import MultiViewDataset
from ssl_core.pipeline import build_pipeline
from ssl_core.preemption import requeued, slurm_job
from ssl_core.registry import Registry
from ssl_core.run_lock import hold_run_folder
from ssl_core.run_folder import LAST_CHECKPOINT, MODEL_FILE, PIPELINE_FILE, run_dir_of
from ssl_core.trainer import SSLModule, make_trainer



def train(config: Config, registry: Registry, resume: bool = False, callbacks: list | None = None) -> Path | None:
    """Train ``config`` into its run folder and save the final weights as ``model.pt``.

    Returns the run folder (``None`` on the non-zero ranks of a DDP run).
    With ``resume`` the run continues from the newest checkpoint that loads
    (``checkpoints/last.ckpt``, else ``previous.ckpt``): weights, optimizer,
    sampler state (bank, queue), selector step, data position and RNG states,
    so it ends exactly as an uninterrupted run would. A run whose training
    finished (``model.pt`` written) is not trained again. The run folder is
    locked for the duration (:mod:`ssl_core.run_lock`).

    Raises:
        ConfigError: a finished or started run is in the folder and ``resume`` is off,
            or ``resume`` is on with a different pipeline.
        RunFolderBusy: another process trains or evaluates in the run folder.
        DiskFullError: a file could not be written; the message says what is intact.
        ssl_core.preemption.Preempted: SIGTERM or SIGINT; a checkpoint of the current step was saved.
    """
    with hold_run_folder(run_dir_of(config), "training"):
        return _train(config, registry, resume, callbacks)


def _train(config: Config, registry: Registry, resume: bool, callbacks: list | None) -> Path | None:
    run_dir = run_dir_of(config)
    checkpoints = run_dir / "checkpoints"
    saved = run_dir / PIPELINE_FILE
    resolved = yaml.safe_dump(config.values, sort_keys=False)
    if not resume and requeued() and checkpoint_files(checkpoints):  # SLURM requeued the job: same command line
        print(f"[ssl-core] SLURM job {slurm_job()} was requeued (restart {os.environ['SLURM_RESTART_COUNT']}): "
              f"resuming the run in {run_dir}")
        resume = True
    if resume:
        if not checkpoint_files(checkpoints):
            raise ConfigError(f"--resume: no checkpoint at {checkpoints / LAST_CHECKPOINT}; start the run without --resume")
        if saved.exists() and yaml.safe_load(saved.read_text()) != config.values:
            raise ConfigError(f"--resume: the pipeline differs from the one the run in {run_dir} started with "
                              f"({saved}); resume with the same file and overrides, or choose another output=")
        if (run_dir / MODEL_FILE).exists():
            try:  # a checkpoint holding code is refused even so; a damaged one no longer matters
                resume_checkpoint(checkpoints)
            except CheckpointError as exc:
                if str(exc).startswith("refusing"):
                    raise
            try:
                safe_torch_load(run_dir / MODEL_FILE)
            except CheckpointError as exc:  # damaged from outside: written again from the final checkpoint
                if str(exc).startswith("refusing"):
                    raise
                print(f"[ssl-core] {exc}; writing it again from the last checkpoint")
            else:
                print(f"[ssl-core] the run in {run_dir} finished training ({MODEL_FILE}); not trained again")
                return run_dir
    elif checkpoint_files(checkpoints) or (run_dir / MODEL_FILE).exists():
        raise ConfigError(f"the run folder {run_dir} already holds a run; add --resume to continue it, "
                          f"or choose another folder with output=runs/<new name>")
    run_dir.mkdir(parents=True, exist_ok=True)
    # Written atomically: a run killed while writing it must still resume (the next --resume compares it).
    atomic_write_text(saved, resolved)
    for folder in (run_dir, checkpoints):  # temporary files of a process killed mid-write; never loaded
        remove_stale_temporaries(folder)
    for stale in checkpoints.glob(f".{LAST_CHECKPOINT}.tmp*"):  # and any other file named like one
        stale.unlink(missing_ok=True)
    checkpoint = None
    if resume:
        checkpoint, step, passed_over = resume_checkpoint(checkpoints)
        if passed_over:
            print(f"[ssl-core] {passed_over}; resuming from the older {checkpoint} (step {step})")

    train_cfg = config.values["train"]
    trainer = make_trainer(train_cfg, run_dir, callbacks, config.values["name"], data_callbacks=[TrainedBatches()])
    # Under DDP each process reads its own slice of every global batch: the steps per epoch (the selectors'
    # schedules, the learning rate) are those of the global batch, known once the trainer is.
    pipeline = build_pipeline(config, registry, world_size=trainer.world_size)
    sampler = EpochSampler(len(pipeline.train_data), train_cfg["batch_size"], config.values["seed"],
                           world_size=trainer.world_size)
    dataset = MultiViewDataset(pipeline.train_data, pipeline.views, config.values["seed"])
    loader = ResumableLoader(dataset, sampler, num_workers=config.values["data"]["num_workers"],
                             collate_fn=dataset.collate)
    planned = train_cfg["max_steps"] if train_cfg["max_steps"] > 0 else sampler.batches_per_epoch * train_cfg["epochs"]
    apply_fast_path(pipeline.objective, pipeline.encoder, train_cfg["channels_last"],
                    should_compile(train_cfg["compile"], planned))
    module = SSLModule(pipeline.objective, train_cfg, run_dir / "checkpoints")
    module.good_checkpoint = checkpoint  # what a failure before the next checkpoint names as intact
    started = time.time()
    try:
        trainer.fit(module, loader, ckpt_path=str(checkpoint) if checkpoint else None)
    except OSError as exc:  # a log or any other file written during training, on a full disk
        if not is_disk_full(exc):
            raise
        then = ", and --resume continues from it" if module.checkpoint_step is not None else "; start the run again"
        raise DiskFullError(Path(exc.filename or run_dir), None, free_bytes(run_dir),
                            module.last_good_checkpoint() + then) from None
    if trainer.interrupted:
        return run_dir
    if trainer.global_rank != 0:  # under DDP the other processes end here; rank 0 saves and evaluates
        return None
    final_loss = trainer.callback_metrics.get("loss")
    if final_loss is None:  # resumed from the final step's checkpoint: no step ran in this session; the log has it
        from ssl_core.plots import read_metrics

        logged = read_metrics(run_dir).get("loss")
        final_loss = logged[-1][1] if logged else float("nan")
    summary = {"global_steps": trainer.global_step, "epochs": trainer.current_epoch,
               "seconds_this_session": round(time.time() - started, 2), "final_loss": float(final_loss)}
    try:  # training.json first: model.pt, written last, marks a finished training
        atomic_write_text(run_dir / "training.json", json.dumps(summary, indent=2))
        atomic_torch_save(pipeline.objective.state_dict(), run_dir / MODEL_FILE)
    except DiskFullError as exc:
        raise exc.with_context(f"training finished; {module.last_good_checkpoint()}, and --resume writes "
                               f"{MODEL_FILE} from it without training again") from None
    return run_dir


class _CallableModule(type(json)):
    """This module is also ``ssl_core.run(pipeline, overrides=...)``, the Python API's entry point (:func:`ssl_core.api.run`)."""

    def __call__(self, *args, **kwargs):
        from ssl_core.api import run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
