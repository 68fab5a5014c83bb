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


def test_run_holds_the_folder_through_evaluation_and_builds_once(tmp_path, monkeypatch):
    """The lock of the run folder is held from training to the end of evaluation (a second ``ssl_core.run``
    or ``ssl-core eval`` on it would be refused), and the run is rebuilt once for evaluation and the result."""
    import fcntl

    import ssl_core.harness
    from ssl_core.run_lock import LOCK_FILE

    real_evaluate, real_build = ssl_core.harness.evaluate_run, ssl_core.pipeline.build_pipeline
    seen, builds = [], []

    def evaluate_while_probing(run_dir, *args, **kwargs):
        with open(run_dir / LOCK_FILE, "a+") as other:  # another open file: what a second process would do
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append("busy")
            else:
                fcntl.flock(other.fileno(), fcntl.LOCK_UN)
                seen.append("free")
        return real_evaluate(run_dir, *args, **kwargs)

    def counting(*args, **kwargs):
        builds.append(1)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(ssl_core.harness, "evaluate_run", evaluate_while_probing)
    monkeypatch.setattr(ssl_core.pipeline, "build_pipeline", counting)  # load_run's builds (training's is apart)
    monkeypatch.setattr(ssl_core.harness, "build_pipeline", counting)  # the random-init baseline's, if any
    pipeline = yaml.safe_load(tiny_pipeline(tmp_path, extra=EVALUATE).read_text())
    result = ssl_core.run(pipeline, overrides={"train.max_steps": 2, "output": str(tmp_path / "locked")},
                          progress=lambda *_: None)
    assert seen == ["busy"]
    assert len(builds) == 1  # one rebuild: evaluated (with its random-init baseline) and returned
    assert {r["encoder"] for r in result.results["evaluations"]} == {"pretrained", "random init"}
    state = torch.load(result.run_dir / "model.pt", weights_only=True)
    assert all(torch.equal(v, state[k]) for k, v in result.objective.state_dict().items())
    assert not result.encoder.training and not any(p.requires_grad for p in result.objective.parameters())
    assert result.initial_state is None
    with open(result.run_dir / LOCK_FILE, "a+") as after:  # released once run returns
        fcntl.flock(after.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(after.fileno(), fcntl.LOCK_UN)


def test_a_second_run_in_the_folder_during_evaluation_is_refused(tmp_path, monkeypatch):
    import subprocess
    import sys

    import ssl_core.harness

    real_evaluate = ssl_core.harness.evaluate_run
    refused = []

    def evaluate_after_a_second_process(run_dir, *args, **kwargs):
        probe = ("import sys; from ssl_core.run_lock import RunFolderBusy, hold_run_folder\n"
                 "try:\n    with hold_run_folder(sys.argv[1]): pass\n"
                 "except RunFolderBusy as exc:\n    print(exc); sys.exit(3)\n")
        done = subprocess.run([sys.executable, "-c", probe, str(run_dir)], capture_output=True, text=True, timeout=60)
        refused.append((done.returncode, done.stdout))
        return real_evaluate(run_dir, *args, **kwargs)

    monkeypatch.setattr(ssl_core.harness, "evaluate_run", evaluate_after_a_second_process)
    pipeline = yaml.safe_load(tiny_pipeline(tmp_path, extra="evaluate:\n  - {name: knn, params: {k: 5}}\n").read_text())
    ssl_core.run(pipeline, overrides={"train.max_steps": 1, "output": str(tmp_path / "busy")}, progress=lambda *_: None)
    [(code, out)] = refused
    assert code == 3, out
    assert f"the run folder {tmp_path / 'busy'} is in use by process" in out and "(training," in out


def test_load_run_evaluates_on_the_gpu_the_run_trained_on(trained, tmp_path, monkeypatch):
    import shutil

    import ssl_core.devices

    copy = tmp_path / "on_gpu_1"
    copy.mkdir()
    shutil.copy(trained.run_dir / "model.pt", copy / "model.pt")
    values = yaml.safe_load((trained.run_dir / "pipeline.yaml").read_text())
    values["train"]["devices"] = "1,"  # Lightning's GPU 1 (the schema takes an int or a string)
    (copy / "pipeline.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    asked = []

    def resolve(*args):  # on a machine with GPU 1 this is cuda:1 (tests/core/test_devices.py); here, the CPU
        asked.append(args)
        return torch.device("cpu")

    monkeypatch.setattr(ssl_core.devices, "resolve_device", resolve)
    loaded = ssl_core.load_run(copy)
    assert asked == [(None, "auto", "1,")]  # eval_options.device, train.accelerator, train.devices
    assert loaded.device == torch.device("cpu")
