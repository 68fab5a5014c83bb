"""SIGTERM and SIGINT (a SLURM preemption, a Ctrl-C) end training with a checkpoint of the current step.

While the training loop runs, the first SIGTERM or SIGINT only sets a flag;
the step under way finishes, ``checkpoints/last.ckpt`` is written for it
(the same checkpoint as a periodic one: ``--resume`` continues bit-identically)
and training ends with :class:`Preempted`, which the command line reports in
one line (exit code 128 + the signal's number, as a shell reports a process
killed by it). A second signal of either kind acts at once (the handlers that
were there before are back). Under DDP the flag is reduced over the
processes at every step, so all of them stop at the same step even when the
signal reached only one.

Lightning's own SIGTERM handler (which stops at the next batch without a
checkpoint) is replaced for the duration of the training loop.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from pytorch_lightning.callbacks import Callback

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(Exception):
    """Training stopped on a signal after saving a checkpoint of the current step.

    Attributes:
        signum: the signal's number.
        step: the global step of the checkpoint.
        checkpoint: its path.
    """

    def __init__(self, signum: int, step: int, checkpoint: Path):
        self.signum, self.step, self.checkpoint = signum, step, Path(checkpoint)
        super().__init__(f"{signal.Signals(signum).name} received: saved the checkpoint of step {step} "
                         f"({checkpoint}); continue the run with --resume")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class PreemptionCheckpoint(Callback):
    """On SIGTERM or SIGINT, save ``last.ckpt`` after the current step and raise :class:`Preempted`.

    Args:
        last: the run's :class:`ssl_core.trainer.LastCheckpoint`, which writes the checkpoint
            (with its non-finite weights and full disk checks).
    """

    def __init__(self, last):
        self.last = last
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum
        self._restore()  # a second signal acts at once

    def _restore(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
        self._previous = {}

    def on_train_start(self, trainer, pl_module) -> None:
        self.received = None
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.getsignal(s) for s in SIGNALS}
            for s in SIGNALS:
                signal.signal(s, self._handle)

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._restore()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        stop = self.received is not None
        if trainer.world_size > 1:  # every process stops at the same step
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        if pl_module.checkpoint_step != trainer.global_step or not self.last.path.exists():
            trainer._logger_connector.update_train_step_metrics()  # this step's CSV row, as a periodic checkpoint
            self.last._save(trainer, pl_module)
        self._restore()
        raise Preempted(self.received or signal.SIGTERM, trainer.global_step, self.last.path)
