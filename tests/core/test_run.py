"""ssl_core.run.train: what a finished training leaves in its run folder, and that it is not trained twice."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.config import load_config
from ssl_core.errors import ConfigError
from ssl_core.registry import make_registry
from ssl_core.run import MODEL_FILE, train

from pipeline_helpers import tiny_pipeline


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def test_a_finished_training_leaves_its_summary_weights_and_resolved_pipeline(tmp_path, registry):
    config = load_config(tiny_pipeline(tmp_path), ["train.max_steps=3"], registry)
    run_dir = train(config, registry)
    summary = json.loads((run_dir / "training.json").read_text())
    assert summary["global_steps"] == 3 and summary["final_loss"] == summary["final_loss"]  # finite, not NaN
    assert yaml.safe_load((run_dir / "pipeline.yaml").read_text()) == config.values
    weights = safe_torch_load(run_dir / MODEL_FILE)
    assert all(isinstance(v, torch.Tensor) for v in weights.values()) and any("encoder" in k for k in weights)
    # a finished run is refused without --resume, and with it is not trained again
    with pytest.raises(ConfigError, match="already holds a run"):
        train(config, registry)
    before = (run_dir / MODEL_FILE).stat().st_mtime_ns
    assert train(config, registry, resume=True) == run_dir
    assert (run_dir / MODEL_FILE).stat().st_mtime_ns == before
