"""The NAC example pipelines: each loads and validates, and trains one tiny step.

The tiny step keeps everything that makes a file what it is (objective and its
parameters, optimizer, schedule, views, encoder family) and shrinks the rest:
one step, a small batch, a narrow encoder, a few images, no evaluators. The
CIFAR-10 pipelines train on the JPEG copy at ``../shared/data/cifar10-jpg``
(the paper-sized ones read the official batches, which these machines lack,
so their step swaps in that copy), the LibriSpeech ones on
``../shared/data/librispeech-mini``, and skip when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssl_core import make_registry
from ssl_core.config import load_config
from ssl_core.run import train

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ROOT / "examples" / "pipelines"
COMMON = ["train.max_steps=1", "train.epochs=1", "train.progress_bar=false", "train.accelerator=cpu", "evaluate=[]",
          "eval_options.random_init_baseline=false", "data.num_workers=0", "train.log_every_n_steps=1"]

SMALL = ["train.batch_size=8", "encoder.params.width=0.0625"]
# name -> (the shared-data folder its step trains on, or None; overrides for a tiny step)
TINY = {
    "nac_smallcnn32_1xb128-coslr-12e_digits": (None, ["train.batch_size=32", "encoder.params.width=4"]),
    "nac_resnet50_1xb1000-coslr-1000e_cifar10": ("cifar10-jpg", SMALL),
    "nac-p0.4_vgg16bn_1xb1000-coslr-1000e_cifar10-hashing": ("cifar10-jpg", SMALL),
    "nac_resnet18-w0.125_1xb128-coslr-15e_cifar10jpg-100pc": ("cifar10-jpg", SMALL),
    "nac-p0.4_vgg16bn-w0.25_1xb128-coslr-15e_cifar10jpg-600pc-hashing": ("cifar10-jpg", SMALL),
    "nac-p0.4_resnet18-w0.25_1xb256-coslr-15e_cifar10jpg-hashing": ("cifar10-jpg", SMALL),
    "nac_resnet18_1xb128-coslr-200e_librispeech": ("librispeech-mini", SMALL),
    "nac_resnet18-w0.25_1xb32-coslr-8e_librispeech-mini": ("librispeech-mini", SMALL),
    "nac_resnet18-w0.25_1xb32-coslr-40e_librispeech-mini-1s": ("librispeech-mini", SMALL),
}


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def test_every_nac_example_is_covered():
    assert {p.stem for p in PIPELINES.glob("*nac*.yaml")} == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_loads_and_validates(name, registry):
    config = load_config(PIPELINES / f"{name}.yaml", registry=registry)
    assert config.values["name"] == name and config.values["objective"]["name"] == "nac"


def test_paper_settings(registry):
    """The paper-sized files say what the paper says (Sec. 4.1-4.3)."""
    for name, encoder, p in (("nac_resnet50_1xb1000-coslr-1000e_cifar10", "resnet50", 0.1), ("nac-p0.4_vgg16bn_1xb1000-coslr-1000e_cifar10-hashing", "vgg16_bn", 0.4)):
        v = load_config(PIPELINES / f"{name}.yaml", registry=registry).values
        assert v["encoder"]["name"] == encoder and v["objective"]["params"]["p"] == p
        assert v["objective"]["params"]["out_dim"] == 128
        assert v["train"]["batch_size"] == 1000 and v["train"]["epochs"] == 1000
        assert v["train"]["optimizer"] | {"betas": None} == {"name": "lars", "lr": 3.0, "momentum": 0.9, "nesterov": False,
                                                             "weight_decay": 1.0e-6, "betas": None}
        assert v["train"]["schedule"]["name"] == "warmup_cosine" and v["train"]["schedule"]["warmup_epochs"] == 10
        assert v["views"]["params"]["blur_prob"] == 0.0 and v["views"]["params"]["size"] == 32
    v = load_config(PIPELINES / "nac_resnet50_1xb1000-coslr-1000e_cifar10.yaml", registry=registry).values
    assert v["encoder"]["params"]["stem"] == "cifar"
    probe = next(e for e in v["evaluate"] if e["name"] == "linear_probe")["params"]
    assert probe["lrs"] == [0.01, 0.1, 1.0, 10.0] and probe["epochs"] == 100 and probe["optimizer"] == "nesterov"
    v = load_config(PIPELINES / "nac-p0.4_vgg16bn_1xb1000-coslr-1000e_cifar10-hashing.yaml", registry=registry).values
    assert v["data"]["dataset"] == "retrieval_subset" and v["data"]["params"]["dataset"] == "cifar10"
    assert (v["data"]["params"]["queries_per_class"], v["data"]["params"]["train_per_class"]) == (1000, 500)
    assert v["encoder"]["params"]["pretrained"] is False


def test_digits_nac_is_the_quick_start(registry):
    v = load_config(PIPELINES / "nac_smallcnn32_1xb128-coslr-12e_digits.yaml", registry=registry).values
    assert [e["name"] for e in v["evaluate"]] == ["linear_probe", "knn", "hash_retrieval"]
    assert v["eval_options"]["random_init_baseline"] is True
    readme = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert ("ssl-core run examples/pipelines/nac_smallcnn32_1xb128-coslr-12e_digits.yaml "
            "examples/pipelines/simclr_smallcnn32_1xb128-coslr-12e_digits.yaml") in readme


def test_the_quick_start_compares_nac_with_simclr_at_the_same_budget(registry):
    """The two quick-start pipelines differ only in the objective: same data, views, encoder, training, evaluators."""
    nac = load_config(PIPELINES / "nac_smallcnn32_1xb128-coslr-12e_digits.yaml", registry=registry).values
    simclr = load_config(PIPELINES / "simclr_smallcnn32_1xb128-coslr-12e_digits.yaml", registry=registry).values
    for key in ("seed", "modality", "data", "views", "encoder", "train", "evaluate", "eval_options"):
        assert nac[key] == simclr[key], key
    assert nac["objective"]["name"] == "nac" and simclr["objective"]["name"] == "simclr"
    assert nac["objective"]["params"]["out_dim"] == simclr["objective"]["params"]["out_dim"] == 128  # 128-bit codes


@pytest.mark.parametrize("nac, ir", [("nac_resnet18_1xb128-coslr-200e_librispeech", "ir_resnet18_1xb128-constlr-200e_librispeech"),
                                     ("nac_resnet18-w0.25_1xb32-coslr-8e_librispeech-mini", "ir_resnet18-w0.25_1xb32-constlr-8e_librispeech-mini"),
                                     ("nac_resnet18-w0.25_1xb32-coslr-40e_librispeech-mini-1s",
                                      "ir_resnet18-w0.25_1xb32-constlr-40e_librispeech-mini-1s")])
def test_speech_nac_shares_the_ir_protocol(nac, ir, registry):
    """The speech NAC files differ from their IR counterparts only in the objective and its optimisation."""
    v = load_config(PIPELINES / f"{nac}.yaml", registry=registry).values
    w = load_config(PIPELINES / f"{ir}.yaml", registry=registry).values
    for key in ("seed", "modality", "data", "views", "encoder"):
        assert v[key] == w[key], key
    assert (v["train"]["epochs"], v["train"]["batch_size"]) == (w["train"]["epochs"], w["train"]["batch_size"])
    assert [e for e in v["evaluate"] if e["name"] == "transfer"] == w["evaluate"]
    assert v["objective"]["params"]["out_dim"] == 128 and v["objective"]["params"]["p"] == 0.1
    assert v["eval_options"]["random_init_baseline"] is True


def test_speech_nac_paper_settings(registry):
    """NAC's optimisation (Sec. 4.1) at the speech recipe's batch, lr by the paper's square-root rule."""
    v = load_config(PIPELINES / "nac_resnet18_1xb128-coslr-200e_librispeech.yaml", registry=registry).values
    assert v["objective"]["params"] == {"p": 0.1, "out_dim": 128, "hidden_dim": None, "scale_by_sqrt_dim": True,
                                        "mask_self_partner": False}
    optimizer = v["train"]["optimizer"]
    assert (optimizer["name"], optimizer["momentum"], optimizer["weight_decay"]) == ("lars", 0.9, 1.0e-6)
    assert optimizer["lr"] == pytest.approx(0.075 * v["train"]["batch_size"] ** 0.5, abs=0.005)
    assert v["train"]["schedule"]["name"] == "warmup_cosine" and v["train"]["schedule"]["warmup_epochs"] == 10


def test_cpu_pipelines_read_the_shared_jpegs(registry):
    """Run from the repository's root, their data root is ../shared/data/cifar10-jpg."""
    for name in ("nac_resnet18-w0.125_1xb128-coslr-15e_cifar10jpg-100pc", "nac-p0.4_vgg16bn-w0.25_1xb128-coslr-15e_cifar10jpg-600pc-hashing"):
        data = load_config(PIPELINES / f"{name}.yaml", registry=registry).values["data"]
        if data["dataset"] == "retrieval_subset":  # the hashing protocol's training subset of an image_folder pool
            data = {"dataset": data["params"]["dataset"], "params": data["params"]["params"]}
        assert data["dataset"] == "image_folder" and data["params"]["per_class"] is not None
        assert (ROOT / data["params"]["root"]).resolve() == (ROOT.parent / "shared" / "data" / "cifar10-jpg").resolve()


@pytest.mark.parametrize("name", sorted(TINY))
def test_one_tiny_step(name, registry, tmp_path, request):
    folder, overrides = TINY[name]
    overrides = [*COMMON, *overrides, f"output={tmp_path / 'run'}"]
    if folder is not None:
        shared = request.getfixturevalue("shared_data")  # skips when ../shared/data is absent
    if folder == "cifar10-jpg":
        config = load_config(PIPELINES / f"{name}.yaml", registry=registry).values
        if config["data"]["dataset"] == "retrieval_subset":  # keep the wrapper: a pool of 4 + 4 images per class
            params = {"root": str(shared / "cifar10-jpg"), "per_class": 4, "subset_test": True}
            overrides += ["data.params.dataset=image_folder", f"data.params.params={json.dumps(params)}",
                          "data.params.queries_per_class=2", "data.params.train_per_class=2"]
        else:
            params = {k: v for k, v in config["data"]["params"].items() if k in ("subset_seed",)}
            params |= {"root": str(shared / "cifar10-jpg"), "per_class": 2}
            overrides += ["data.dataset=image_folder", f"data.params={json.dumps(params)}"]
    elif folder == "librispeech-mini":  # the paper-sized file downloads train-clean-100; the step reads the mini copy
        params = {"root": str(shared / folder), "subset": "train-clean-100", "cache_dir": str(tmp_path / "cache")}
        overrides += [f"data.params={json.dumps(params)}"]
    config = load_config(PIPELINES / f"{name}.yaml", overrides, registry=registry)
    run_dir = train(config, registry)
    assert (run_dir / "model.pt").is_file()
    assert json.loads((run_dir / "training.json").read_text())["global_steps"] == 1
