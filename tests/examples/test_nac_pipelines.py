"""The NAC example pipelines: each loads and validates, and trains one tiny step.

The tiny step keeps everything that makes a file what it is (objective and its
parameters, optimizer, schedule, views, encoder family) and shrinks the rest:
one step, a small batch, a narrow encoder, a few images, no evaluators. The
CIFAR-10 pipelines train on the JPEG copy at ``../shared/data/cifar10-jpg``
(the paper-sized ones read the official batches, which these machines lack,
so their step swaps in that copy) and skip when it is absent.
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

# name -> (needs the shared CIFAR-10 JPEGs, overrides for a tiny step)
TINY = {
    "digits_nac": (False, ["train.batch_size=32", "encoder.params.width=4"]),
    "cifar10_nac_resnet50_1000e": (True, ["train.batch_size=8", "encoder.params.width=0.0625"]),
    "cifar10_nac_hashing_vgg16bn_p04": (True, ["train.batch_size=8", "encoder.params.width=0.0625"]),
    "cifar10_nac_resnet18_cpu": (True, ["train.batch_size=8", "encoder.params.width=0.0625"]),
    "cifar10_nac_hashing_cpu": (True, ["train.batch_size=8", "encoder.params.width=0.0625"]),
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
    for name, encoder, p in (("cifar10_nac_resnet50_1000e", "resnet50", 0.1), ("cifar10_nac_hashing_vgg16bn_p04", "vgg16_bn", 0.4)):
        v = load_config(PIPELINES / f"{name}.yaml", registry=registry).values
        assert v["encoder"]["name"] == encoder and v["objective"]["params"]["p"] == p
        assert v["objective"]["params"]["out_dim"] == 128
        assert v["train"]["batch_size"] == 1000 and v["train"]["epochs"] == 1000
        assert v["train"]["optimizer"] | {"betas": None} == {"name": "lars", "lr": 3.0, "momentum": 0.9, "nesterov": False,
                                                             "weight_decay": 1.0e-6, "betas": None}
        assert v["train"]["schedule"]["name"] == "warmup_cosine" and v["train"]["schedule"]["warmup_epochs"] == 10
        assert v["views"]["params"]["blur_prob"] == 0.0 and v["views"]["params"]["size"] == 32
    v = load_config(PIPELINES / "cifar10_nac_resnet50_1000e.yaml", registry=registry).values
    assert v["encoder"]["params"]["stem"] == "cifar"
    probe = next(e for e in v["evaluate"] if e["name"] == "linear_probe")["params"]
    assert probe["lrs"] == [0.01, 0.1, 1.0, 10.0] and probe["epochs"] == 100 and probe["optimizer"] == "nesterov"
    v = load_config(PIPELINES / "cifar10_nac_hashing_vgg16bn_p04.yaml", registry=registry).values
    assert v["data"]["params"]["per_class"] == 500 and v["encoder"]["params"]["pretrained"] is False


def test_digits_nac_is_the_quick_start(registry):
    v = load_config(PIPELINES / "digits_nac.yaml", registry=registry).values
    assert [e["name"] for e in v["evaluate"]] == ["linear_probe", "knn", "hash_retrieval"]
    assert v["eval_options"]["random_init_baseline"] is True
    readme = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "ssl-core run examples/pipelines/digits_nac.yaml" in readme


def test_cpu_pipelines_read_the_shared_jpegs(registry):
    """Run from the repository's root, their data root is ../shared/data/cifar10-jpg."""
    for name in ("cifar10_nac_resnet18_cpu", "cifar10_nac_hashing_cpu"):
        v = load_config(PIPELINES / f"{name}.yaml", registry=registry).values
        assert v["data"]["dataset"] == "image_folder" and v["data"]["params"]["per_class"] is not None
        assert (ROOT / v["data"]["params"]["root"]).resolve() == (ROOT.parent / "shared" / "data" / "cifar10-jpg").resolve()


@pytest.mark.parametrize("name", sorted(TINY))
def test_one_tiny_step(name, registry, tmp_path, request):
    needs_cifar, overrides = TINY[name]
    overrides = [*COMMON, *overrides, f"output={tmp_path / 'run'}"]
    if needs_cifar:
        shared = request.getfixturevalue("shared_data")  # skips when ../shared/data is absent
        config = load_config(PIPELINES / f"{name}.yaml", registry=registry).values
        params = {k: v for k, v in config["data"]["params"].items() if k in ("subset_seed",)}
        params |= {"root": str(shared / "cifar10-jpg"), "per_class": 2}
        overrides += ["data.dataset=image_folder", f"data.params={json.dumps(params)}"]
    config = load_config(PIPELINES / f"{name}.yaml", overrides, registry=registry)
    run_dir = train(config, registry)
    assert (run_dir / "model.pt").is_file()
    assert json.loads((run_dir / "training.json").read_text())["global_steps"] == 1
