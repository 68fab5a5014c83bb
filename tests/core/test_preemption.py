"""ssl_core.preemption: the SLURM job, requeueing, SIGUSR1 outside training, and the checkpoint-then-stop callback."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import ssl_core.preemption as preemption
from ssl_core.preemption import (SIGNALS, Preempted, PreemptionCheckpoint, requeue, requeue_on_sigusr1, requeued,
                                 slurm_job)

SLURM_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT")


@pytest.fixture
def env(monkeypatch):
    """Set SLURM variables for one test, none of the machine's own."""
    for name in SLURM_VARS:
        monkeypatch.delenv(name, raising=False)

    def set_(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_


@pytest.fixture
def requeues(monkeypatch):
    """``requeue`` replaced: the jobs it was asked to requeue."""
    calls = []

    def fake(job):
        calls.append(job)
        return f"SLURM job {job} requeued"

    monkeypatch.setattr(preemption, "requeue", fake)
    return calls


@pytest.mark.parametrize("values, job", [
    ({}, None),
    ({"SLURM_JOB_ID": "123"}, "123"),
    ({"SLURM_JOB_ID": "123", "SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "3"}, "77_3"),
    ({"SLURM_ARRAY_JOB_ID": "77"}, None),  # no task id: "77_None" is not a job
    ({"SLURM_JOB_ID": "12; rm -rf ~"}, None),  # never handed to scontrol
    ({"SLURM_JOB_ID": ""}, None),
])
def test_slurm_job(env, values, job):
    env(**values)
    assert slurm_job() == job


@pytest.mark.parametrize("values, expected", [
    ({"SLURM_JOB_ID": "5", "SLURM_RESTART_COUNT": "1"}, True),
    ({"SLURM_JOB_ID": "5", "SLURM_RESTART_COUNT": "12"}, True),
    ({"SLURM_JOB_ID": "5", "SLURM_RESTART_COUNT": "0"}, False),
    ({"SLURM_JOB_ID": "5", "SLURM_RESTART_COUNT": " "}, False),
    ({"SLURM_JOB_ID": "5"}, False),
    ({"SLURM_RESTART_COUNT": "1"}, False),  # not a SLURM job
])
def test_requeued(env, values, expected):
    env(**values)
    assert requeued() is expected


def test_requeue_runs_scontrol_and_says_what_happened(monkeypatch):
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    assert requeue("77_3") == "SLURM job 77_3 requeued"
    assert calls == [["scontrol", "requeue", "77_3"]]


def test_a_failed_requeue_says_why(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: subprocess.CompletedProcess(
        argv, 1, "", "  scontrol: error: Invalid job id specified\n"))
    assert requeue("5") == "requeueing SLURM job 5 failed (scontrol: scontrol: error: Invalid job id specified)"
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: subprocess.CompletedProcess(argv, 1, "x" * 500, ""))
    assert requeue("5") == f"requeueing SLURM job 5 failed (scontrol: {'x' * 200})"

    def missing(argv, **kw):
        raise FileNotFoundError(2, "No such file or directory", "scontrol")

    monkeypatch.setattr(subprocess, "run", missing)
    assert requeue("5").startswith("requeueing SLURM job 5 failed ([Errno 2] No such file or directory")


def test_sigusr1_changes_nothing_outside_slurm(env):
    before = signal.getsignal(signal.SIGUSR1)
    with requeue_on_sigusr1():
        assert signal.getsignal(signal.SIGUSR1) is before


def test_sigusr1_under_slurm_requeues_once_and_the_work_goes_on(env, requeues, capsys):
    env(SLURM_JOB_ID="4242")
    before = signal.getsignal(signal.SIGUSR1)
    with requeue_on_sigusr1("the evaluation"):
        assert signal.getsignal(signal.SIGUSR1) is not before
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)  # a second one is ignored: already requeued
        reached = True
    assert reached and requeues == ["4242"]
    assert signal.getsignal(signal.SIGUSR1) is before  # restored
    assert capsys.readouterr().out == (
        "[ssl-core] SIGUSR1 received during the evaluation: SLURM job 4242 requeued; the requeued job continues "
        "from the files written so far (a finished training is not done again)\n")


def test_sigusr1_handler_is_restored_after_an_error(env, requeues):
    env(SLURM_JOB_ID="1")
    before = signal.getsignal(signal.SIGUSR1)
    with pytest.raises(RuntimeError):
        with requeue_on_sigusr1():
            raise RuntimeError
    assert signal.getsignal(signal.SIGUSR1) is before


def test_sigusr1_off_the_main_thread_changes_nothing(env):
    env(SLURM_JOB_ID="1")
    before, seen = signal.getsignal(signal.SIGUSR1), []

    def work():
        with requeue_on_sigusr1():
            seen.append(signal.getsignal(signal.SIGUSR1))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [before]


# -- PreemptionCheckpoint, with stand-ins for Lightning's trainer and the run's last-checkpoint writer


class Last:
    def __init__(self, path: Path):
        self.path, self.saved = path, []

    def _save(self, trainer, module):
        self.saved.append(trainer.global_step)
        self.path.write_text("checkpoint")


def trainer(step: int, world_size: int = 1, decision=None, zero: bool = True):
    logged = []
    strategy = SimpleNamespace(reduce_boolean_decision=lambda stop, all: decision if decision is not None else stop)
    return SimpleNamespace(global_step=step, world_size=world_size, strategy=strategy, is_global_zero=zero,
                           _logger_connector=SimpleNamespace(update_train_step_metrics=lambda: logged.append(step)),
                           logged=logged)


@pytest.fixture
def handlers():
    """Known handlers of SIGTERM, SIGINT and SIGUSR1 for the test (the previous ones are put back after)."""
    signals = SIGNALS + (signal.SIGUSR1,)
    saved = {s: signal.getsignal(s) for s in signals}
    mine = {s: (lambda signum, frame: None) for s in signals}
    for s, handler in mine.items():
        signal.signal(s, handler)
    yield mine
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_no_signal_no_stop(tmp_path):
    callback = PreemptionCheckpoint(Last(tmp_path / "last.ckpt"))
    callback.on_train_batch_end(trainer(3), SimpleNamespace(checkpoint_step=None), None, None, 0)
    assert callback.last.saved == []


def test_the_first_signal_sets_a_flag_and_puts_the_old_handlers_back(env, handlers, tmp_path):
    callback = PreemptionCheckpoint(Last(tmp_path / "last.ckpt"))
    callback.on_train_start(None, None)
    try:
        assert all(signal.getsignal(s) == callback._handle for s in SIGNALS)
        assert signal.getsignal(signal.SIGUSR1) is handlers[signal.SIGUSR1]  # outside SLURM: left alone
        os.kill(os.getpid(), signal.SIGTERM)
        assert callback.received == signal.SIGTERM
        assert all(signal.getsignal(s) is handlers[s] for s in SIGNALS)  # a second signal acts at once
    finally:
        callback.on_train_end(None, None)
    assert all(signal.getsignal(s) is handlers[s] for s in SIGNALS)


def test_under_slurm_sigusr1_is_caught_too_and_the_end_restores_all(env, handlers, tmp_path):
    env(SLURM_JOB_ID="9")
    callback = PreemptionCheckpoint(Last(tmp_path / "last.ckpt"))
    callback.on_train_start(None, None)
    assert signal.getsignal(signal.SIGUSR1) == callback._handle
    callback.on_exception(None, None, RuntimeError())
    assert all(signal.getsignal(s) is handler for s, handler in handlers.items())


def test_a_signal_saves_the_step_and_raises_preempted(env, tmp_path):
    last = Last(tmp_path / "last.ckpt")
    callback = PreemptionCheckpoint(last)
    callback.received = signal.SIGTERM
    t = trainer(7)
    with pytest.raises(Preempted) as info:
        callback.on_train_batch_end(t, SimpleNamespace(checkpoint_step=5), None, None, 0)
    assert last.saved == [7] and t.logged == [7]
    assert (info.value.signum, info.value.step, info.value.checkpoint) == (signal.SIGTERM, 7, last.path)
    assert info.value.exit_code == 128 + signal.SIGTERM
    assert str(info.value) == (f"SIGTERM received: saved the checkpoint of step 7 ({last.path}); "
                               f"continue the run with --resume")


def test_a_step_already_checkpointed_is_not_saved_again(env, tmp_path):
    last = Last(tmp_path / "last.ckpt")
    last.path.write_text("checkpoint of step 7")
    callback = PreemptionCheckpoint(last)
    callback.received = signal.SIGINT
    with pytest.raises(Preempted, match="^SIGINT received: saved the checkpoint of step 7"):
        callback.on_train_batch_end(trainer(7), SimpleNamespace(checkpoint_step=7), None, None, 0)
    assert last.saved == []


def test_under_ddp_every_process_stops_when_any_was_signalled(env, tmp_path):
    callback = PreemptionCheckpoint(Last(tmp_path / "last.ckpt"))  # this process got no signal; another did
    with pytest.raises(Preempted) as info:
        callback.on_train_batch_end(trainer(4, world_size=2, decision=True), SimpleNamespace(checkpoint_step=None),
                                    None, None, 0)
    assert info.value.signum == signal.SIGTERM
    callback.on_train_batch_end(trainer(5, world_size=2, decision=False), SimpleNamespace(checkpoint_step=None),
                                None, None, 0)  # nobody was: no stop


def test_sigusr1_under_slurm_requeues_from_rank_zero_only(env, requeues, tmp_path):
    env(SLURM_JOB_ID="4242")
    for zero, expected in ((True, ["4242"]), (False, [])):
        requeues.clear()
        callback = PreemptionCheckpoint(Last(tmp_path / "last.ckpt"))
        callback.received = signal.SIGUSR1
        with pytest.raises(Preempted) as info:
            callback.on_train_batch_end(trainer(3, zero=zero), SimpleNamespace(checkpoint_step=3), None, None, 0)
        assert requeues == expected
    assert str(info.value).endswith("continue the run with --resume")  # rank 1's message
    callback.received = signal.SIGUSR1
    with pytest.raises(Preempted, match="; SLURM job 4242 requeued: it resumes from there$"):
        callback.on_train_batch_end(trainer(3), SimpleNamespace(checkpoint_step=3), None, None, 0)


def test_sigterm_under_slurm_does_not_requeue(env, requeues, tmp_path):
    env(SLURM_JOB_ID="4242")
    callback = PreemptionCheckpoint(Last(tmp_path / "last.ckpt"))
    callback.received = signal.SIGTERM
    with pytest.raises(Preempted):
        callback.on_train_batch_end(trainer(3), SimpleNamespace(checkpoint_step=None), None, None, 0)
    assert requeues == []
