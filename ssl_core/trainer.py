"""One Lightning module and Trainer for every pipeline."""

from __future__ import annotations

import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, TQDMProgressBar

from ssl_core import seeded_rng
from ssl_core.atomic_write import DiskFullError
from ssl_core.checkpoint_io import LAST_CHECKPOINT, AtomicCheckpointIO
from ssl_core.errors import SslCoreError
from ssl_core.fast_path import to_channels_last
from ssl_core.loggers import build_loggers
from ssl_core.optimization import build_optimizer, lr_factor
from ssl_core.preemption import PreemptionCheckpoint


class DivergenceError(SslCoreError):
    """The loss, or the weights, became NaN or infinite."""


def _non_finite(module: torch.nn.Module) -> str | None:
    """The name of the first floating parameter or buffer (bank, queue) holding a NaN or an infinity."""
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            return name
    return None


class SSLModule(pl.LightningModule):
    """Trains an objective: ``objective.step(views, index) -> (loss, metrics)`` per batch.

    The learning rate is set each step from :func:`lr_factor` (a pure function
    of the global step and the steps per epoch, ``len`` of the training
    loader); the objective's optional hooks ``on_epoch(epoch)`` (before the
    first step of every epoch, a resumed one included) and ``on_step(global_step, epoch)``
    (before every step, with the restored step after a resume) drive any
    schedule it has; every metric ``step`` returns is logged under its own
    name. The global RNG states are saved in every checkpoint and restored
    just before the first step after a resume.
    """

    def __init__(self, objective: torch.nn.Module, train_cfg: dict, checkpoint_dir: Path | None = None):
        super().__init__()
        self.objective = objective
        self.train_cfg = train_cfg
        self.checkpoint_dir = checkpoint_dir
        self._pending_rng: dict | None = None
        self._epoch_started: int | None = None  # the epoch whose on_epoch hook ran in this session
        self.checkpoint_step: int | None = None  # global step of the last checkpoint written or loaded
        self.good_checkpoint: Path | None = None  # that checkpoint's file, when not last.ckpt (resumed from previous.ckpt)

    def last_good_checkpoint(self) -> str:
        """Where the run can resume from, for a :class:`DivergenceError`."""
        last = self.good_checkpoint or (self.checkpoint_dir / LAST_CHECKPOINT if self.checkpoint_dir else None)
        if last is None or not last.exists():
            return "no checkpoint was written yet"
        step = "" if self.checkpoint_step is None else f" (step {self.checkpoint_step})"
        return f"the last good checkpoint, {last}{step}, is intact"

    def configure_optimizers(self):
        return build_optimizer(self.objective.parameters(), self.train_cfg["optimizer"])

    def _set_lr(self) -> float:
        factor = lr_factor(self.global_step, int(self.trainer.num_training_batches), self.train_cfg["epochs"], self.train_cfg["schedule"])
        lr = self.train_cfg["optimizer"]["lr"] * factor
        optimizer = self.optimizers()
        for group in getattr(optimizer, "optimizer", optimizer).param_groups:
            group["lr"] = lr
        return lr

    def training_step(self, batch, batch_idx):
        if self._pending_rng is not None:
            seeded_rng.restore(self._pending_rng)
            self._pending_rng = None
        views, index, _ = batch
        if self.train_cfg["channels_last"]:
            views = to_channels_last(list(views))
        # Here, not in on_train_epoch_start, which Lightning skips for an epoch resumed mid-way.
        on_epoch = getattr(self.objective, "on_epoch", None)
        if on_epoch is not None and self._epoch_started != self.current_epoch:
            on_epoch(self.current_epoch)
        self._epoch_started = self.current_epoch
        on_step = getattr(self.objective, "on_step", None)
        if on_step is not None:
            on_step(self.global_step, self.current_epoch)
        lr = self._set_lr()
        loss, metrics = self.objective.step(list(views), index)
        self._stop_unless_finite(loss)
        self.log("loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.log("lr", lr, on_step=True, on_epoch=False)
        for key, value in metrics.items():
            self.log(key, float(value), on_step=True, on_epoch=False)
        return loss

    def _stop_unless_finite(self, loss: torch.Tensor) -> None:
        """Raise :class:`DivergenceError` on every process when the loss of any process is not finite.

        Under DDP the finite flag is reduced over the processes before the
        backward pass: a process that stopped alone would leave the others
        waiting in the gradient all-reduce.
        """
        finite = bool(torch.isfinite(loss))
        world = self.trainer.world_size if self._trainer is not None else 1
        everywhere = finite if world <= 1 else self.trainer.strategy.reduce_boolean_decision(finite, all=True)
        if everywhere:
            return
        where = f"became {loss.item()}" if not finite else "became non-finite on another process"
        ranks = f" on process {self.global_rank} of {world}" if world > 1 and not finite else ""
        raise DivergenceError(f"the loss {where}{ranks} at step {self.global_step} (epoch {self.current_epoch}); "
                              f"{self.last_good_checkpoint()}. Lower train.optimizer.lr or check the data.")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rng_states"] = seeded_rng.capture()
        self.checkpoint_step = checkpoint["global_step"]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._pending_rng = checkpoint.get("rng_states")
        self.checkpoint_step = checkpoint["global_step"]


class LastCheckpoint(Callback):
    """Writes ``last.ckpt`` every ``every_n_steps`` steps (if > 0) and at the end of every epoch.

    Non-finite weights (a NaN gradient can leave the loss finite) are never
    written: the run stops with a :class:`DivergenceError` and the previous
    checkpoint stays the last good one.
    """

    def __init__(self, directory: Path, every_n_steps: int = 0):
        self.path = Path(directory) / LAST_CHECKPOINT
        self.every_n_steps = every_n_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.every_n_steps > 0 and trainer.global_step % self.every_n_steps == 0:
            # Lightning writes this step's CSV row only after this hook: write it (and flush) first, so that a
            # run killed just after the checkpoint lacks no row of a step the checkpoint covers (Lightning then
            # writes the same row again; readers keep one value per step).
            trainer._logger_connector.update_train_step_metrics()
            self._save(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        self._save(trainer, pl_module)

    def _save(self, trainer, pl_module) -> None:
        bad = _non_finite(pl_module)
        if bad is not None:
            raise DivergenceError(f"the weights became non-finite ({bad}) at step {trainer.global_step - 1} "
                                  f"(epoch {trainer.current_epoch}), the loss still finite; "
                                  f"{pl_module.last_good_checkpoint()}. Lower train.optimizer.lr or check the data.")
        good = pl_module.checkpoint_step
        try:
            trainer.save_checkpoint(self.path, weights_only=False)
            pl_module.good_checkpoint = None  # last.ckpt is the good one now
        except BaseException as exc:
            pl_module.checkpoint_step = good  # the write failed: the last good checkpoint is still the older one
            if isinstance(exc, DiskFullError):
                then = ", and --resume continues from it" if good is not None else "; start the run again"
                raise exc.with_context(pl_module.last_good_checkpoint() + then) from None
            raise


def make_trainer(train_cfg: dict, run_dir: Path, extra_callbacks: list | None = None, run_name: str = "ssl-core",
                 data_callbacks: list | None = None) -> pl.Trainer:
    """The Lightning Trainer for a pipeline's ``train`` section, logging to ``train.logger`` (:mod:`ssl_core.loggers`).

    ``data_callbacks`` (the loader's position counter) run before the checkpoint callbacks,
    ``extra_callbacks`` after them.
    """
    # One CSV per session (part0, part1 ... after resumes): Lightning would delete an existing log.
    part = len(list((run_dir / "logs").glob("part*"))) if (run_dir / "logs").exists() else 0
    loggers = build_loggers(train_cfg.get("logger", "csv"), run_dir, part, run_name)
    last = LastCheckpoint(run_dir / "checkpoints", train_cfg["checkpoint_every_n_steps"])
    callbacks = [*(data_callbacks or []), last, PreemptionCheckpoint(last)]
    if train_cfg["progress_bar"]:
        callbacks.append(TQDMProgressBar(refresh_rate=1))
    callbacks += extra_callbacks or []
    strategy = train_cfg["strategy"]
    return pl.Trainer(
        max_epochs=train_cfg["epochs"],
        max_steps=train_cfg["max_steps"],
        accelerator=train_cfg["accelerator"],
        devices=train_cfg["devices"],
        num_nodes=train_cfg["num_nodes"],
        strategy=strategy,
        sync_batchnorm=train_cfg["sync_batchnorm"],
        precision=train_cfg["precision"],
        logger=loggers or False,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=False,
        enable_progress_bar=train_cfg["progress_bar"],
        enable_model_summary=False,
        log_every_n_steps=train_cfg["log_every_n_steps"],
        use_distributed_sampler=False,
        detect_anomaly=train_cfg["detect_anomaly"],
        num_sanity_val_steps=0,
        limit_val_batches=0,
        default_root_dir=str(run_dir),
    )
