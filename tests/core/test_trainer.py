"""The trainer's contract with an objective: on_epoch / on_step hooks (resume included), metrics logged by name."""

from __future__ import annotations

import pytest
import torch
from pytorch_lightning.callbacks import Callback
from torch import nn

import ssl_core
from ssl_core import make_registry
from ssl_core.config import load_config
from ssl_core.plots import panels_of, read_metrics
from ssl_core.run import train

from pipeline_helpers import tiny_pipeline


class Recorder(nn.Module):
    """An objective that records the trainer's calls and reports them as ``hooks/step`` and ``hooks/epoch``."""

    sources = ()
    calls: list = []

    def __init__(self, encoder: nn.Module | None = None, num_examples: int = 0):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, 4)
        self.seen = (-1, -1)

    def embed(self, x):
        return self.head(self.encoder(x))

    def on_epoch(self, epoch: int) -> None:
        Recorder.calls.append(("epoch", epoch))

    def on_step(self, global_step: int, epoch: int) -> None:
        Recorder.calls.append(("step", global_step, epoch))
        self.seen = (global_step, epoch)

    def step(self, views, index):
        loss = self.embed(views[0]).pow(2).mean()
        return loss, {"hooks/step": float(self.seen[0]), "hooks/epoch": float(self.seen[1]), "other": 1.0}


class RecorderPlugin:
    @ssl_core.hookimpl
    def ssl_core_objectives(self):
        return {"recorder": Recorder}


class Crash(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 8:
            raise RuntimeError("simulated crash")


@pytest.fixture()
def registry():
    Recorder.calls.clear()
    return make_registry([RecorderPlugin()], autoload=False, warn=False)


def recorder_pipeline(tmp_path, every=3):
    path = tiny_pipeline(tmp_path, epochs=2, every=every, test_fraction=0.6)  # 11 steps per epoch
    path.write_text(path.read_text().replace("name: simclr\n  params: {out_dim: 16, hidden_dim: 16}", "name: recorder"))
    return path


def test_hooks_get_every_global_step_and_epoch_and_their_metrics_are_logged_by_name(tmp_path, registry):
    run_dir = train(load_config(recorder_pipeline(tmp_path), registry=registry), registry)
    steps = [c for c in Recorder.calls if c[0] == "step"]
    assert steps == [("step", s, s // 11) for s in range(22)]
    assert [c for c in Recorder.calls if c[0] == "epoch"] == [("epoch", 0), ("epoch", 1)]
    assert Recorder.calls.index(("epoch", 1)) == Recorder.calls.index(("step", 11, 1)) - 1  # before the epoch's first step
    metrics = read_metrics(run_dir)
    assert [v for _, v in metrics["hooks/step"]] == [float(s) for s in range(22)]
    assert panels_of(metrics) == {"loss": ["loss"], "hooks": ["hooks/epoch", "hooks/step"], "lr": ["lr"], "other": ["other"]}


def test_after_a_resume_the_hooks_get_the_restored_step_and_epoch(tmp_path, registry):
    config = load_config(recorder_pipeline(tmp_path), registry=registry)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, registry, callbacks=[Crash()])
    Recorder.calls.clear()
    train(config, registry, resume=True)  # the last checkpoint is at step 6 (every 3 steps)
    assert Recorder.calls[:2] == [("epoch", 0), ("step", 6, 0)]
    assert [c for c in Recorder.calls if c[0] == "step"] == [("step", s, s // 11) for s in range(6, 22)]
