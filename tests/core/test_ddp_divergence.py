"""A NaN loss on one DDP process stops every process at the same step, with the last good checkpoint.

Two real gloo processes (Lightning's DDP launcher starts the second), one
tiny digits run, and an objective whose loss turns NaN on process 1 only, at
step 3. Without the reduced finite flag, process 1 stops alone while process
0 waits in the gradient all-reduce: under NCCL until its timeout (the test's
timeout fails it), under gloo until it sees process 1 gone, then with a
traceback and no message (checked: the test fails so).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ssl_core.checkpoint_io import safe_torch_load

from pipeline_helpers import tiny_pipeline

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="two gloo processes, process groups (Linux)")

SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path

    import torch
    import torch.distributed as dist

    from ssl_contrastive.simclr import SimCLR
    from ssl_core import hookimpl, make_registry
    from ssl_core.config import load_config
    from ssl_core.run import train
    from ssl_core.trainer import DivergenceError


    class NanOnRankOne(SimCLR):
        """SimCLR whose loss is NaN at step 3 on process 1 only."""

        def __init__(self, temperature=0.5, out_dim=128, hidden_dim=512, encoder=None, source=None, selector=None):
            super().__init__(temperature, out_dim, hidden_dim, encoder, source, selector)
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))

        def step(self, views, index):
            loss, metrics = super().step(views, index)
            if int(self.steps) == 3 and dist.is_initialized() and dist.get_rank() == 1:
                loss = loss * float("nan")
            self.steps += 1
            return loss, metrics


    class Plugin:
        @hookimpl
        def ssl_core_objectives(self):
            return {"nan_on_rank_one": NanOnRankOne}


    torch.set_num_threads(1)
    registry = make_registry(plugins=[Plugin()], autoload=False, warn=False)
    pipeline, out = sys.argv[1], Path(sys.argv[2])
    config = load_config(pipeline, ["train.strategy=ddp", "train.devices=2", "train.accelerator=cpu"], registry=registry)
    rank = 0
    try:
        train(config, registry)
    except DivergenceError as exc:
        rank = dist.get_rank() if dist.is_initialized() else -1
        (out / f"rank{rank}.txt").write_text(str(exc))
        sys.exit(2)
    (out / "finished.txt").write_text("no divergence")
''')


def test_nan_on_one_rank_stops_both_at_the_same_step(tmp_path):
    path = tiny_pipeline(tmp_path, epochs=1, every=2, test_fraction=0.6)
    path.write_text(path.read_text().replace("name: simclr", "name: nan_on_rank_one"))
    script = tmp_path / "ddp_nan.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", SSL_CORE_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(tmp_path)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # both processes: the launcher's child is in the same session
        output, _ = proc.communicate()
        pytest.fail("a process was left waiting after the other's NaN loss:\n" + output[-3000:])
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    messages = {rank: (tmp_path / f"rank{rank}.txt").read_text() if (tmp_path / f"rank{rank}.txt").exists() else None
                for rank in (0, 1)}
    assert proc.returncode == 2 and all(messages.values()), (messages, output[-3000:])
    assert "the loss became nan on process 1 of 2 at step 3" in messages[1], messages[1]
    assert "the loss became non-finite on another process at step 3" in messages[0], messages[0]
    for message in messages.values():
        assert f"the last good checkpoint, {checkpoint} (step 2), is intact" in message, message
    assert safe_torch_load(checkpoint)["global_step"] == 2
    assert not (tmp_path / "run" / "model.pt").exists()
