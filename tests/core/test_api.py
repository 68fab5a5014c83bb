"""The Python API: ssl_core.run (a file or a dict, with overrides) and ssl_core.load_run, the one rebuild of a run."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

import ssl_core
import ssl_core.pipeline
from ssl_core.errors import ConfigError

from pipeline_helpers import tiny_pipeline

EVALUATE = "evaluate:\n  - {name: knn, params: {k: 5}}\neval_options: {random_init_baseline: true}\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    pipeline = yaml.safe_load(tiny_pipeline(tmp, extra=EVALUATE).read_text())
    return ssl_core.run(pipeline, overrides={"train.max_steps": 3, "output": str(tmp / "from_dict")},
                        progress=lambda *_: None)


def test_run_from_a_dict_with_overrides(trained):
    assert trained.run_dir.name == "from_dict" and (trained.run_dir / "model.pt").is_file()
    assert trained.config.values["train"]["max_steps"] == 3
    assert json.loads((trained.run_dir / "training.json").read_text())["global_steps"] == 3
    knn = trained.metrics["knn"]
    assert set(knn) == {"top1", "top5"} and 0.0 <= knn["top1"] <= 1.0
    on_disk = json.loads((trained.run_dir / "results.json").read_text())
    assert ssl_core.api.metrics_of(on_disk) == trained.metrics
    assert {r["encoder"] for r in on_disk["evaluations"]} == {"pretrained", "random init"}
    assert not trained.encoder.training and not any(p.requires_grad for p in trained.objective.parameters())


def test_load_run_embeds_new_data_with_the_trained_weights(trained):
    loaded = ssl_core.load_run(trained.run_dir)
    assert loaded.device == torch.device("cpu")  # train.accelerator auto on a machine without CUDA
    state = torch.load(trained.run_dir / "model.pt", weights_only=True)
    assert all(torch.equal(v, state[k]) for k, v in loaded.objective.state_dict().items())
    x = torch.stack([loaded.views.eval(loaded.pipeline.train_data[i][0]) for i in range(5)])
    with torch.no_grad():
        expected = loaded.encoder.eval()(x)
    assert torch.allclose(loaded.embed(x, batch_size=2), expected)
    assert loaded.embed(x, layer="embedding").shape == (5, 16)  # simclr out_dim
    assert loaded.metrics == trained.metrics


def test_load_run_keeps_the_initial_weights_and_builds_once(trained, monkeypatch):
    calls = []
    original = ssl_core.pipeline.build_pipeline

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl_core.pipeline, "build_pipeline", counting)
    loaded = ssl_core.load_run(trained.run_dir, keep_initial=True)
    fresh = original(loaded.config, ssl_core.registry())
    assert all(torch.equal(v, loaded.initial_state[k]) for k, v in fresh.objective.state_dict().items())
    from ssl_core.harness import evaluate_run

    calls.clear()
    evaluate_run(trained.run_dir, progress=lambda *_: None)
    assert len(calls) == 1  # trained and random-init encoders come from one build


def test_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trained model"):
        ssl_core.load_run(tmp_path)
    pipeline = yaml.safe_load(tiny_pipeline(tmp_path).read_text())
    with pytest.raises(ConfigError, match="<dict>.*unknown key 'train.epoch'"):
        ssl_core.run(pipeline | {"train": {"epoch": 1}})
    with pytest.raises(ConfigError, match="eval_options.device"):
        ssl_core.api.load_pipeline(pipeline, {"eval_options.device": "gpu0"})


def test_run_is_still_the_training_module():
    from ssl_core.run import MODEL_FILE, train

    assert MODEL_FILE == "model.pt" and callable(train) and callable(ssl_core.run)
