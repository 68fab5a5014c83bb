"""A run SIGKILLed again and again, and resumed each time, ends bit-identical to an uninterrupted run.

The processes are real and are really killed with SIGKILL: each attempt is a
child process that runs ``ssl_core.cli.main(["run", PIPELINE, ...])``, the
function ``python -m ssl_core.cli run PIPELINE ...`` calls. The children are
forked from one *zygote* process that has imported ssl-core once: starting
``python -m ssl_core.cli`` afresh costs 10-20 s of imports per attempt on a
2-core machine, which would put this test far beyond its time budget; a fork
after the imports is the same code path from ``main`` on. Nothing in the
library is patched or monkeypatched.

Kills land at moments chosen to hurt: as soon as the run folder exists (before
any checkpoint: the next attempt must start afresh, without ``--resume``),
while ``last.ckpt`` is being written (its temporary file exists), right after
it has been replaced (before the step's CSV row may have been written), and
after seeded random delays.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest
import torch

from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.plots import read_metrics

from pipeline_helpers import tiny_pipeline
from zygote import alive, file_id, poll_until, zygote  # noqa: F401  (zygote: a fixture)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses fork, SIGKILL and /proc (Linux)")



def tensors_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


EPOCHS, EVERY, TEST_FRACTION = 2, 2, 0.6  # 719 training digits, 11 steps of 64 per epoch, a checkpoint every 2
PLAN = ["started", "mid_write", "after_write", "random", "mid_write", "random", "after_write"]


def test_sigkill_many_times_then_resume_equals_uninterrupted(tmp_path, zygote):
    straight_yaml = tiny_pipeline(tmp_path, epochs=EPOCHS, every=EVERY, output="straight", test_fraction=TEST_FRACTION)
    killed_yaml = tiny_pipeline(tmp_path, epochs=EPOCHS, every=EVERY, output="killed", test_fraction=TEST_FRACTION)
    straight, run = tmp_path / "straight", tmp_path / "killed"
    ckpt = run / "checkpoints" / "last.ckpt"
    decoy = ckpt.with_name(".last.ckpt.tmp1")

    # the uninterrupted run goes on beside the killed ones (one thread each), and is waited for at the end
    straight_pid = zygote.start("cli", tmp_path / "straight.log", argv=["run", str(straight_yaml)])

    rng = random.Random(20260521)
    history = []  # (attempt, resumed, kill point, exit code, checkpoint step after it, temporary files left)
    for attempt in range(len(PLAN) + 3):
        resume = ckpt.exists()  # no checkpoint yet: the run must start afresh
        if resume and not decoy.exists():
            # a complete, loadable checkpoint with other weights, named like a temporary file: never to be loaded
            state = safe_torch_load(ckpt)
            state["state_dict"] = {k: v + 1 if v.is_floating_point() else v for k, v in state["state_dict"].items()}
            torch.save(state, decoy)
        argv = ["run", str(killed_yaml)] + (["--resume"] if resume else [])
        point = PLAN[attempt] if attempt < len(PLAN) else None
        before = file_id(ckpt)
        pid = zygote.start("cli", tmp_path / f"attempt{attempt}.log", argv=argv)
        hit = False
        if point == "started":
            hit = poll_until(pid, lambda: (run / "pipeline.yaml").exists())
        elif point == "mid_write":
            temp = ckpt.with_name(f".last.ckpt.tmp{pid}")
            hit = poll_until(pid, temp.exists)
        elif point == "after_write":
            hit = poll_until(pid, lambda: file_id(ckpt) not in (None, before))
        elif point == "random":
            # a random moment while training: after this attempt's first new checkpoint, so that a fast
            # machine cannot finish the whole run inside a fixed delay (as it did on CI: 20 steps in < 3 s)
            hit = poll_until(pid, lambda: file_id(ckpt) not in (None, before))
            if hit:
                time.sleep(rng.uniform(0.0, 0.3))
                hit = alive(pid)
        if hit:
            os.kill(pid, signal.SIGKILL)
        code = zygote.wait(pid)
        step = safe_torch_load(ckpt)["global_step"] if ckpt.exists() else None
        temps = sorted(p.name for p in ckpt.parent.glob(".last.ckpt.tmp*") if p != decoy) if ckpt.parent.exists() else []
        history.append((attempt, resume, point if hit else None, code, step, temps))
        if point == "mid_write" and hit:
            assert temps, history  # the kill landed while last.ckpt was being written
        if point == "started":
            assert hit and code == -signal.SIGKILL and not ckpt.exists(), history  # killed before any checkpoint
        if code == 0:
            break
        assert code == -signal.SIGKILL, (history, (tmp_path / f"attempt{attempt}.log").read_text()[-3000:])
    else:
        pytest.fail(f"the killed run never finished: {history}")

    assert zygote.wait(straight_pid) == 0, (tmp_path / "straight.log").read_text()[-3000:]
    kills = [h for h in history if h[3] == -signal.SIGKILL]
    assert len(kills) >= 4, history
    assert sum(1 for h in history if h[1]) >= 2, history  # and at least two attempts resumed a checkpoint

    tensors_equal(safe_torch_load(straight / "model.pt"), safe_torch_load(run / "model.pt"))
    expected, got = read_metrics(straight), read_metrics(run)
    assert len(expected["loss"]) == EPOCHS * 11
    assert got["loss"] == expected["loss"], history
    assert got == expected, history
    assert len(list((run / "logs").glob("part*"))) >= 2

    # The temporary files of the kills mid-write, and the decoy, were removed by the next attempt, unread.
    assert not list(ckpt.parent.glob(".last.ckpt.tmp*"))


NUMEL = 8 * 1024 * 1024  # 32 MB of float32: a write long enough to be caught in the middle


@pytest.mark.parametrize("atomic", [True, False], ids=["atomic_torch_save", "plain_torch_save_control"])
def test_kill_during_save_never_leaves_a_half_written_file(tmp_path, zygote, atomic):
    """SIGKILL a process that rewrites a 32 MB checkpoint in a loop, mid-write, four times.

    With :func:`atomic_torch_save` the file under the final name always loads
    and is one whole version; the control, plain ``torch.save`` killed the
    same way, leaves a file that does not load: the kills really land
    mid-write, and the check would catch a half-written file.
    """
    path = tmp_path / "big.ckpt"
    broken = 0
    for trial in range(4):
        pid = zygote.start("save_loop", tmp_path / "save.log", path=str(path), numel=NUMEL, atomic=atomic)
        if atomic:
            temp = path.with_name(f".{path.name}.tmp{pid}")
            # wait for a second write (the first has no older version to fall back to), then kill while it is under way
            assert poll_until(pid, lambda: path.exists() and temp.exists(), timeout=60)
        else:
            assert poll_until(pid, lambda: path.exists() and 0 < path.stat().st_size < 4 * NUMEL, timeout=60)
        os.kill(pid, signal.SIGKILL)
        assert zygote.wait(pid) == -signal.SIGKILL
        try:
            state = safe_torch_load(path)
        except Exception:
            broken += 1
            assert not atomic, f"trial {trial}: the file under the final name is half-written"
            continue
        assert state["data"].numel() == NUMEL and torch.all(state["data"] == float(state["version"]))
        if atomic:
            assert temp.exists() and temp.stat().st_size < 4 * NUMEL  # the kill did land mid-write
            with pytest.raises(Exception):
                safe_torch_load(temp)
            temp.unlink()
    if not atomic:
        assert broken >= 1, "the control never caught a write in the middle: the kills are not landing mid-write"
