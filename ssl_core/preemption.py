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

Under SLURM (``SLURM_JOB_ID`` set) SIGUSR1, the signal ``#SBATCH
--signal=USR1@<seconds>`` sends before the time limit, does the same and
then requeues the job (``scontrol requeue``, as Lightning's auto-requeue
does); the requeued job (``SLURM_RESTART_COUNT`` > 0) runs the same command
and :func:`ssl_core.run.train` resumes it from the checkpoint.

Lightning's own handlers (SIGTERM: stop at the next batch without a
checkpoint; SIGUSR1 under SLURM: a checkpoint written from inside the signal
handler, in the middle of a step, so not one that resumes exactly) are
replaced for the duration of the training loop.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pytorch_lightning.callbacks import Callback

from ssl_core.preempted import Preempted  # noqa: F401 - re-exported

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def slurm_job() -> str | None:
    """The SLURM job to requeue (``<array job>_<task>`` for an array task), or ``None`` outside SLURM."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID')}" if array else os.environ.get("SLURM_JOB_ID")
    return job if job and re.fullmatch(r"[0-9_]+", job) else None


def requeued() -> bool:
    """Whether this is a SLURM job that was requeued (``SLURM_RESTART_COUNT`` > 0)."""
    return slurm_job() is not None and os.environ.get("SLURM_RESTART_COUNT", "0").strip() not in ("", "0")


def requeue(job: str) -> str:
    """``scontrol requeue JOB``; what happened, in words."""
    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"requeueing SLURM job {job} failed ({exc})"
    if done.returncode != 0:
        return f"requeueing SLURM job {job} failed (scontrol: {(done.stderr or done.stdout).strip()[:200]})"
    return f"SLURM job {job} requeued"


@contextmanager
def requeue_on_sigusr1(what: str = "the evaluation") -> Iterator[None]:
    """Under SLURM, a SIGUSR1 outside the training loop requeues the job at once and lets the work go on.

    There is no step to checkpoint (building, evaluating): the requeued job,
    started when SLURM ends this one, continues from the files written (a
    finished training is not done again). Inside the training loop
    :class:`PreemptionCheckpoint` takes over. Held around a whole ``ssl-core
    run``, it also keeps Lightning from installing its own SIGUSR1 handler
    (Lightning installs one only where none is set). Outside SLURM, or off the
    main thread, nothing changes.
    """
    usr1 = getattr(signal, "SIGUSR1", None)
    job = slurm_job()
    if usr1 is None or job is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        signal.signal(usr1, signal.SIG_IGN)  # once
        print(f"[ssl-core] SIGUSR1 received during {what}: {requeue(job)}; the requeued job continues from the "
              f"files written so far (a finished training is not done again)", flush=True)

    previous = signal.signal(usr1, handle)
    try:
        yield
    finally:
        signal.signal(usr1, previous)




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
            signals = SIGNALS + ((signal.SIGUSR1,) if slurm_job() and hasattr(signal, "SIGUSR1") else ())
            self._previous = {s: signal.getsignal(s) for s in signals}
            for s in signals:
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
        signum = self.received or signal.SIGTERM
        job = slurm_job() if signum == getattr(signal, "SIGUSR1", None) else None
        done = requeue(job) if job and trainer.is_global_zero else None
        raise Preempted(signum, trainer.global_step, self.last.path, done)
