"""LA through the trainer: a run of a few steps, and a run stopped mid-epoch resumes exactly (clusters in the checkpoint).

Each case runs twice: with a callback that calls ``objective.on_step(global_step,
epoch)`` before every step, as the trainer will, and without it (the objective
then counts the epochs itself).
"""

from __future__ import annotations

import json

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from ssl_core import make_registry
from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.config import load_config
from ssl_core.plots import read_metrics
from ssl_core.run import train

from pipeline_helpers import Crash


LA_DIGITS = """\
name: la_tiny
seed: 3
data: {{dataset: digits, params: {{test_fraction: 0.6}}}}
views: digits
encoder: {{name: small_cnn, params: {{width: 4}}}}
objective:
  name: la
  params: {{out_dim: 16, num_clusters: 20, kmeans_runs: 2, kmeans_iters: 5, kmeans_backend: torch}}
  negatives:
    source: {{name: memory_bank, params: {{k: 64, momentum: 0.5}}}}
train:
  epochs: 2
  batch_size: 64
  optimizer: {{name: sgd, lr: 0.03, momentum: 0.9}}
  checkpoint_every_n_steps: 3
  progress_bar: false
output: {output}
"""  # 719 training digits / 64 = 11 steps per epoch


class AnnounceSteps(Callback):
    """Calls the objective's ``on_step`` before every step, as the trainer will."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.calls.append((trainer.global_step, trainer.current_epoch))
        pl_module.objective.on_step(trainer.global_step, trainer.current_epoch)


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def config_at(tmp_path, registry, output):
    path = tmp_path / f"{output}.yaml"
    path.write_text(LA_DIGITS.format(output=tmp_path / output))
    return load_config(path, registry=registry)


def callbacks(announce: bool):
    return [AnnounceSteps()] if announce else []


@pytest.fixture(scope="module", params=[True, False], ids=["on_step", "counted"])
def straight(request, tmp_path_factory, registry):
    tmp_path = tmp_path_factory.mktemp("la_straight")
    run_dir = train(config_at(tmp_path, registry, "straight"), registry, callbacks=callbacks(request.param))
    return request.param, run_dir


def test_a_pipeline_trains_and_reclusters_each_epoch(straight):
    _, run_dir = straight
    summary = json.loads((run_dir / "training.json").read_text())
    assert summary["global_steps"] == 22
    ckpt = safe_torch_load(run_dir / "checkpoints" / "last.ckpt")
    state = ckpt["state_dict"]
    assert int(state["objective.clusters_epoch"]) == 1 and int(state["objective.steps_done"]) == 22
    assert state["objective.cluster_labels"].shape == (2, 719)
    losses = [v for _, v in read_metrics(run_dir)["loss"]]
    assert all(torch.isfinite(torch.tensor(losses)))


def test_resume_mid_epoch_equals_uninterrupted(tmp_path, registry, straight):
    announce, straight_dir = straight
    config = config_at(tmp_path, registry, "crashed")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, registry, callbacks=callbacks(announce) + [Crash(17)])  # last checkpoint: step 15, mid-epoch 1
    resumed_dir = train(config, registry, resume=True, callbacks=callbacks(announce))
    expected, got = safe_torch_load(straight_dir / "model.pt"), safe_torch_load(resumed_dir / "model.pt")
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert dict(read_metrics(resumed_dir)["loss"]) == dict(read_metrics(straight_dir)["loss"])
