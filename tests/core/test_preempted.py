"""Preempted: the one line a signal-stopped run prints, and its exit code."""

from __future__ import annotations

import signal
from pathlib import Path

from ssl_core.preempted import Preempted


def test_message_names_the_signal_step_checkpoint_and_what_to_do():
    stop = Preempted(signal.SIGTERM, 42, Path("runs/x/checkpoints/last.ckpt"))
    assert str(stop) == ("SIGTERM received: saved the checkpoint of step 42 (runs/x/checkpoints/last.ckpt); "
                         "continue the run with --resume")
    assert (stop.signum, stop.step, stop.checkpoint) == (signal.SIGTERM, 42, Path("runs/x/checkpoints/last.ckpt"))


def test_a_requeued_job_says_it_resumes_by_itself():
    stop = Preempted(signal.SIGUSR1, 7, Path("c.ckpt"), requeue="SLURM job 12 requeued")
    assert str(stop).endswith("; SLURM job 12 requeued: it resumes from there")
    other = Preempted(signal.SIGUSR1, 7, Path("c.ckpt"), requeue="scontrol requeue failed")
    assert str(other).endswith("; scontrol requeue failed; continue the run with --resume")


def test_exit_code_is_the_shell_convention():
    assert Preempted(signal.SIGINT, 0, Path("c")).exit_code == 130
    assert Preempted(signal.SIGTERM, 0, Path("c")).exit_code == 143
