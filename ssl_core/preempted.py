"""The exception of a run stopped by a signal (no Lightning import: the CLI catches it cheaply)."""

from __future__ import annotations

import signal
from pathlib import Path


class Preempted(Exception):
    """Training stopped on a signal after saving a checkpoint of the current step.

    Attributes:
        signum: the signal's number.
        step: the global step of the checkpoint.
        checkpoint: its path.
    """

    def __init__(self, signum: int, step: int, checkpoint: Path, requeue: str | None = None):
        self.signum, self.step, self.checkpoint = signum, step, Path(checkpoint)
        then = f"; {requeue}: it resumes from there" if requeue and requeue.endswith("requeued") else (
            f"; {requeue}; continue the run with --resume" if requeue else "; continue the run with --resume")
        super().__init__(f"{signal.Signals(signum).name} received: saved the checkpoint of step {step} "
                         f"({checkpoint}){then}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
