"""One process at a time in a run folder: a second run, an eval or a sweep value is refused at once.

The processes are real (forked from the zygote, :mod:`zygote`); the lock
they contend for is the kernel's ``flock``, released however its holder ends.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys

import pytest

from ssl_core.run_lock import LOCK_FILE, hold_run_folder, launch_rank

from pipeline_helpers import tiny_pipeline
from zygote import alive, poll_until, zygote  # noqa: F401  (zygote: a fixture)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses fork, flock and /proc (Linux)")


def busy_line(text: str, run) -> str:
    lines = [line for line in text.splitlines() if line.startswith("ssl-core: error: ")]
    assert len(lines) == 1 and "Traceback" not in text, text[-3000:]
    assert f"the run folder {run} is in use by process" in lines[0] and "choose another folder" in lines[0], lines[0]
    return lines[0]


def test_a_second_run_and_an_eval_on_a_folder_being_trained_are_refused(tmp_path, zygote):
    path = tiny_pipeline(tmp_path, epochs=3, every=2, test_fraction=0.6)
    run = tmp_path / "run"
    first = zygote.start("cli", tmp_path / "first.log", argv=["run", str(path)])
    assert poll_until(first, lambda: (run / "checkpoints" / "last.ckpt").exists())
    for name, argv in [("second", ["run", str(path)]), ("resumed", ["run", str(path), "--resume"]),
                       ("eval", ["eval", str(run)])]:
        pid = zygote.start("cli", tmp_path / f"{name}.log", argv=argv)
        assert zygote.wait(pid) == 2
        line = busy_line((tmp_path / f"{name}.log").read_text(), run)
        assert f"process {first} on" in line and "ssl-core run" in line, line
        assert alive(first), "refused only after the first run ended: not at once"
    assert zygote.wait(first) == 0, (tmp_path / "first.log").read_text()[-3000:]
    assert json.loads((run / "training.json").read_text())["global_steps"] == 3 * 11  # written by one run only


def test_a_sweep_value_in_use_is_refused(tmp_path, zygote):
    path = tiny_pipeline(tmp_path, epochs=1, test_fraction=0.6)
    out = tmp_path / "sweep"
    with hold_run_folder(out / "lr=0.002"):  # this process trains that value, say
        pid = zygote.start("cli", tmp_path / "sweep.log", argv=["sweep", str(path), "--param", "train.optimizer.lr",
                                                                "--values", "0.002", "--out", str(out)])
        assert zygote.wait(pid) == 2
        line = busy_line((tmp_path / "sweep.log").read_text(), out / "lr=0.002")
        assert f"process {os.getpid()} on" in line


def test_the_lock_of_a_killed_run_is_stale_and_taken_over(tmp_path, zygote):
    path = tiny_pipeline(tmp_path, epochs=1, every=2, test_fraction=0.6)
    run = tmp_path / "run"
    pid = zygote.start("cli", tmp_path / "killed.log", argv=["run", str(path)])
    assert poll_until(pid, lambda: (run / "checkpoints" / "last.ckpt").exists())
    os.kill(pid, signal.SIGKILL)
    assert zygote.wait(pid) == -signal.SIGKILL
    assert json.loads((run / LOCK_FILE).read_text())["pid"] == pid  # left behind, naming a dead process
    resumed = zygote.start("cli", tmp_path / "resumed.log", argv=["run", str(path), "--resume"])
    assert zygote.wait(resumed) == 0, (tmp_path / "resumed.log").read_text()[-3000:]
    assert (run / "model.pt").exists()


def lock_is_free(run) -> bool:
    with open(run / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


def test_released_on_an_exception_and_reentrant_within_a_process(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="crash"):
        with hold_run_folder(run):
            with hold_run_folder(run):  # training inside `ssl-core run`, which holds it already
                assert not lock_is_free(run)
            assert not lock_is_free(run)  # the inner release keeps the outer hold
            raise RuntimeError("crash")
    assert lock_is_free(run)


@pytest.mark.parametrize("env, rank", [({}, 0), ({"RANK": "1"}, 1), ({"LOCAL_RANK": "1"}, 1),
                                       ({"SLURM_PROCID": "3", "SLURM_NTASKS": "4"}, 3),
                                       ({"SLURM_PROCID": "0", "SLURM_NTASKS": "4"}, 0)])
def test_only_the_launching_process_of_a_ddp_run_locks(tmp_path, monkeypatch, env, rank):
    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert launch_rank() == rank
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).touch()
    with hold_run_folder(run):
        assert lock_is_free(run) == (rank != 0)


def test_eval_of_a_missing_folder_creates_nothing(tmp_path, capsys):
    from ssl_core.cli import main

    assert main(["eval", str(tmp_path / "typo")]) == 2
    assert "no trained model" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()
