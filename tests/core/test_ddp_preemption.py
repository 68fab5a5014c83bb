"""SIGTERM to one of two DDP processes: both stop after the same step, with its checkpoint; --resume finishes.

Two real gloo processes through ``python -m ssl_core.cli run ... train.strategy=ddp``
(Lightning's launcher starts the second); the signal goes to the first only.
Without the flag reduced over the processes, the first would stop alone and
leave the second waiting in the gradient all-reduce.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from ssl_core.checkpoint_io import safe_torch_load

from pipeline_helpers import tiny_pipeline

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="two gloo processes, signals (Linux)")

DDP = ["train.strategy=ddp", "train.devices=2", "train.accelerator=cpu"]


def run(command, env, **kw):
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kw)


def finish(proc, timeout=180) -> str:
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("a process was left waiting:\n" + proc.communicate()[0][-3000:])


def test_sigterm_to_one_ddp_process_stops_both_at_the_same_step(tmp_path):
    path = tiny_pipeline(tmp_path, epochs=2, every=1, test_fraction=0.6)  # 5 global steps of 2 x 64 per epoch
    env = dict(os.environ, OMP_NUM_THREADS="1", SSL_CORE_DISABLE_PLUGIN_AUTOLOAD="1")
    command = [sys.executable, "-m", "ssl_core.cli", "run", str(path), *DDP]
    checkpoints = tmp_path / "run" / "checkpoints"
    proc = run(command, env)
    deadline = time.monotonic() + 150
    while not (checkpoints / "previous.ckpt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before the signal"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGTERM)  # the launching process (rank 0) only
    output = finish(proc)
    assert proc.returncode == 128 + signal.SIGTERM, output[-3000:]
    said = re.findall(r"\[ssl-core\] SIGTERM received: saved the checkpoint of step (\d+)", output)
    assert len(said) == 2 and len(set(said)) == 1, output[-3000:]  # both processes, the same step
    step = int(said[0])
    assert step < 10 and safe_torch_load(checkpoints / "last.ckpt")["global_step"] == step
    assert "Traceback" not in output, output[-3000:]

    resumed = run(command + ["--resume"], env)
    output = finish(resumed)
    assert resumed.returncode == 0, output[-3000:]
    assert json.loads((tmp_path / "run" / "training.json").read_text())["global_steps"] == 10
