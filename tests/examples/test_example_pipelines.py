"""Every example pipeline (the NAC ones are tested by their own file) loads and validates; those on local data train a step.

Paper-settings pipelines (CIFAR-10 or LibriSpeech downloads, GPU-sized) only
validate. The CPU-sized ones read ``../shared/data`` and run one tiny training
step through :func:`ssl_core.run.train`, shrunk by overrides (one step, a tiny
batch and encoder, a small subset, bank and queue; no evaluators); they skip
with a message when the shared data is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ssl_core.config import load_config
from ssl_core.run import train

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = sorted(p for p in (ROOT / "examples" / "pipelines").glob("*.yaml") if "nac" not in p.name)


def _local_data(values: dict) -> str | None:
    """The shared-data folder a pipeline reads (``cifar10-jpg`` or ``librispeech-mini``), or None if it downloads."""
    root = str(values["data"]["params"].get("root") or "")
    for folder in ("cifar10-jpg", "librispeech-mini"):
        if root.rstrip("/").endswith(f"shared/data/{folder}"):
            return folder
    return None


def _shrink(values: dict, data: Path, tmp_path: Path, cache: Path) -> list[str]:
    """Overrides that make a CPU pipeline one tiny step on its real data, with absolute data paths."""
    folder = _local_data(values)
    overrides = [f"data.params.root={data / folder}", "train.max_steps=1", "train.epochs=1", "train.batch_size=16",
                 "train.progress_bar=false", "train.log_every_n_steps=1", "evaluate=[]", f"output={tmp_path / 'run'}"]
    if folder == "cifar10-jpg":
        overrides += ["data.params.per_class=4", "encoder.params.width=0.125"]
    else:
        overrides += [f"data.params.cache_dir={cache}", "encoder.params.width=0.125"]
    source = values["objective"]["negatives"]["source"]
    if source and source["name"] == "memory_bank":
        overrides.append("objective.negatives.source.params.k=8")
    elif source and source["name"] == "queue":
        overrides.append("objective.negatives.source.params.size=32")
    if values["objective"]["negatives"]["select"]:
        overrides.append("objective.negatives.select.params.anneal_epochs=1")  # within the one epoch
    if values["objective"]["name"] == "la":  # clusters that fit the 40 images, and the LA loss in the one step
        overrides += ["objective.params.num_clusters=4", "objective.params.ir_warmup_epochs=0"]
    return overrides


def test_every_method_has_paper_and_cpu_pipelines():
    names = {p.stem for p in PIPELINES}
    for method in ("ir", "iring", "cmc", "cmcring", "moco", "mocoring", "simclr", "simclring", "la"):
        assert f"cifar10_{method}_resnet18_200e" in names
        assert f"cifar10jpg_{method}_cpu" in names
    for method in ("ir", "iring", "moco", "mocoring"):
        assert f"librispeech_{method}_resnet18_200e" in names
    assert {"cifar10jpg_iring_noanneal_cpu", "cifar10jpg_iball_cpu", "librispeech_mini_ir_cpu",
            "librispeech_mini_iring_cpu"} <= names


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_pipeline_validates(path: Path):
    config = load_config(path)
    values = config.values
    assert values["name"] == path.stem, "a pipeline is named after its file"
    if path.stem.endswith("_200e"):
        assert values["train"]["epochs"] == 200
        assert values["train"]["schedule"]["name"] == "step" or values["modality"] == "speech"
        assert _local_data(values) is None
    select = values["objective"]["negatives"]["select"]
    assert (select is not None) == ("ring" in path.stem or "iball" in path.stem)


@pytest.fixture(scope="module")
def speech_cache(tmp_path_factory) -> Path:
    """One log-mel cache of librispeech-mini for every speech pipeline here (built once, a few seconds)."""
    return tmp_path_factory.mktemp("speech-cache")


@pytest.fixture
def one_thread():
    """One intra-op thread: on a busy 2-core machine a tiny step is ~3x faster than with oversubscribed threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


LOCAL = [p for p in PIPELINES if _local_data(load_config(p).values)]


@pytest.mark.parametrize("path", LOCAL, ids=lambda p: p.stem)
def test_cpu_pipeline_trains_one_step(path: Path, shared_data: Path, tmp_path: Path, speech_cache: Path, one_thread):
    values = load_config(path).values
    config = load_config(path, _shrink(values, shared_data, tmp_path, speech_cache))
    run_dir = train(config, _registry())
    summary = json.loads((run_dir / "training.json").read_text())
    assert summary["global_steps"] == 1
    assert summary["final_loss"] == summary["final_loss"], "the loss is finite (not NaN)"
    assert (run_dir / "model.pt").is_file()


def _registry():
    from ssl_core.registry import registry

    return registry()
