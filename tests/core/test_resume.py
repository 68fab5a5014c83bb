"""A run stopped mid-epoch and resumed ends exactly like an uninterrupted one."""

from __future__ import annotations

import pytest
import torch

from ssl_core import make_registry
from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.config import load_config
from ssl_core.errors import ConfigError
from ssl_core.plots import read_metrics
from ssl_core.run import train

from pipeline_helpers import Crash, tiny_pipeline


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def losses(run_dir):
    return dict(read_metrics(run_dir)["loss"])


SMALL = 0.6  # test_fraction: 719 training digits / batch 64 = 11 steps per epoch


@pytest.fixture(scope="module")
def straight(tmp_path_factory, registry):
    tmp_path = tmp_path_factory.mktemp("straight")
    config = load_config(tiny_pipeline(tmp_path, epochs=2, every=3, output="straight", test_fraction=SMALL), registry=registry)
    return train(config, registry)


# checkpoints every 3 steps: the crash loses 1 or 2 steps, which the resumed run redoes
@pytest.mark.parametrize("crash_at", [8, 17])  # mid-epoch 0, and mid-epoch 1 after an epoch boundary
def test_resume_mid_epoch_equals_uninterrupted(tmp_path, registry, straight, crash_at):
    config = load_config(tiny_pipeline(tmp_path, epochs=2, every=3, output="crashed", test_fraction=SMALL), registry=registry)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, registry, callbacks=[Crash(crash_at)])
    assert not (tmp_path / "crashed" / "model.pt").exists()
    resumed = train(config, registry, resume=True)

    expected, got = safe_torch_load(straight / "model.pt"), safe_torch_load(resumed / "model.pt")
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    straight_losses, resumed_losses = losses(straight), losses(resumed)
    assert len(straight_losses) == 22
    assert resumed_losses == straight_losses


def test_resume_refuses_a_changed_pipeline(tmp_path, registry):
    config = load_config(tiny_pipeline(tmp_path, epochs=1, output="r", test_fraction=SMALL), registry=registry)
    with pytest.raises(RuntimeError):
        train(config, registry, callbacks=[Crash(3)])
    with pytest.raises(ConfigError, match="no checkpoint"):
        train(config, registry, resume=True)  # nothing saved before the epoch's end
    changed = load_config(tiny_pipeline(tmp_path, epochs=1, every=2, output="r2", test_fraction=SMALL), ["train.optimizer.lr=0.1"], registry=registry)
    with pytest.raises(RuntimeError):
        train(changed, registry, callbacks=[Crash(3)])
    other = load_config(tiny_pipeline(tmp_path, epochs=1, every=2, output="r2", test_fraction=SMALL), registry=registry)
    with pytest.raises(ConfigError, match="differs from the one the run"):
        train(other, registry, resume=True)


def test_a_finished_run_is_not_overwritten(tmp_path, registry):
    config = load_config(tiny_pipeline(tmp_path, epochs=1, output="done", test_fraction=SMALL), ["train.max_steps=2"], registry=registry)
    train(config, registry)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(config, registry)
