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


def pipeline_name(values: dict) -> str:
    """``method_backbone_NxbB-schedule-Ee_data`` (mmpretrain's style), from a pipeline's resolved values.

    method: the objective, ``ring`` appended for the ring selector (``ball``
    when ``l = 0``; IR gives ``iring`` / ``iball``, SimCLR ``simclring``),
    ``-noanneal`` for an unannealed ring, ``-p<p>`` for NAC's flip probability
    other than 0.1; backbone: the encoder, ``-w<width>`` for a width
    multiplier (``smallcnn<width>``: its channels); ``N`` processes x ``B``
    per process, the learning-rate schedule (``coslr``, ``steplr``,
    ``constlr``) and the epochs; data: the dataset (``cifar10jpg-<n>pc`` for
    n images per class of the CIFAR-10 JPEG tree, ``librispeech-mini``,
    ``-<s>s`` for crops of s seconds other than the paper's),
    ``-hashing`` for the retrieval protocol's subset.
    """
    objective = values["objective"]
    method = {"nac_mq": "nacmq"}.get(objective["name"], objective["name"])
    select = objective["negatives"]["select"]
    if select:
        params = select["params"]
        kind = "ball" if params.get("l", 1.0) == 0 else "ring"
        method = {"ir": "i", "simclr": "simclr" if kind == "ball" else "simcl"}.get(method, method) + kind
        method += "-noanneal" if params.get("schedule") == "none" else ""
    p = objective["params"].get("p", 0.1)
    method += f"-p{p:g}" if objective["name"].startswith("nac") and p != 0.1 else ""
    encoder = values["encoder"]
    width = encoder["params"].get("width", 32 if encoder["name"] == "small_cnn" else 1)
    backbone = encoder["name"].replace("_", "")
    backbone += f"{width:g}" if encoder["name"] == "small_cnn" else (f"-w{width:g}" if width != 1 else "")
    train = values["train"]
    processes = (train["devices"] if isinstance(train["devices"], int) and train["devices"] > 0 else 1) * train["num_nodes"]
    schedule = {"warmup_cosine": "coslr", "step": "steplr", "constant": "constlr"}[train["schedule"]["name"]]
    dataset, params, suffix = values["data"]["dataset"], values["data"]["params"], ""
    if dataset == "retrieval_subset":
        dataset, params, suffix = params["dataset"], params.get("params") or {}, "-hashing"
    root = str(params.get("root", ""))
    if dataset == "image_folder" and "cifar10-jpg" in root:
        dataset = "cifar10jpg" + (f"-{params['per_class']}pc" if params.get("per_class") else "")
    if dataset == "librispeech" and "mini" in root:
        dataset = "librispeech-mini" + (f"-{params['num_samples'] / 16000:g}s" if params.get("num_samples") else "")
    return f"{method}_{backbone}_{processes}xb{train['batch_size']}-{schedule}-{train['epochs']}e_{dataset}{suffix}"


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "pipelines").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_file_name_says_what_runs(path: Path):
    assert path.stem == pipeline_name(load_config(path).values)


def test_every_method_has_paper_and_cpu_pipelines():
    names = {p.stem for p in PIPELINES}
    for method in ("ir", "iring", "cmc", "cmcring", "moco", "mocoring", "simclr", "simclring", "la"):
        assert any(n.startswith(f"{method}_resnet18_") and n.endswith("-200e_cifar10") for n in names), method
        assert f"{method}_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc" in names
    for method in ("ir", "iring", "moco", "mocoring"):
        assert f"{method}_resnet18_1xb128-constlr-200e_librispeech" in names
    assert {"iring-noanneal_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc",
            "iball_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc", "ir_resnet18-w0.25_1xb32-constlr-8e_librispeech-mini",
            "iring_resnet18-w0.25_1xb32-constlr-8e_librispeech-mini"} <= names


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_pipeline_validates(path: Path):
    config = load_config(path)
    values = config.values
    assert values["name"] == path.stem, "a pipeline is named after its file"
    if "-200e_" in path.stem:
        assert values["train"]["epochs"] == 200
        assert values["train"]["schedule"]["name"] == "step" or values["modality"] == "speech"
        assert _local_data(values) is None
    select = values["objective"]["negatives"]["select"]
    method = path.stem.split("_")[0]
    assert (select is not None) == ("ring" in method or "ball" in method)


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
