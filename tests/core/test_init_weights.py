"""encoder.init_from: a run folder, a state dict file, torchvision's cached weights; weights_only; shape errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

import ssl_core
from ssl_core.cli import main
from ssl_core.config import load_config
from ssl_core.errors import ConfigError
from ssl_core.pipeline import build_pipeline

from pipeline_helpers import tiny_pipeline


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("source")
    assert main(["run", str(tiny_pipeline(tmp)), "train.max_steps=2"]) == 0
    return tmp / "run"


def built_encoder(tmp_path, *overrides, extra=""):
    registry = ssl_core.registry()
    config = load_config(tiny_pipeline(tmp_path, extra=extra), list(overrides), registry)
    return build_pipeline(config, registry).encoder


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_from_a_run_folder(source_run, tmp_path):
    trained = ssl_core.load_run(source_run).encoder.state_dict()
    start = built_encoder(tmp_path, f"encoder.init_from={source_run}").state_dict()
    assert same(start, trained)
    assert not same(built_encoder(tmp_path).state_dict(), trained)  # without it: the seed's weights


def test_from_a_state_dict_file_and_from_model_pt(source_run, tmp_path):
    trained = ssl_core.load_run(source_run).encoder.state_dict()
    torch.save(trained, tmp_path / "encoder.pt")
    assert same(built_encoder(tmp_path, f"encoder.init_from={tmp_path / 'encoder.pt'}").state_dict(), trained)
    # a run's model.pt is the objective's state: its encoder.* part is taken
    assert same(built_encoder(tmp_path, f"encoder.init_from={source_run / 'model.pt'}").state_dict(), trained)


def test_a_momentum_encoder_starts_from_the_weights_too(source_run, tmp_path):
    registry = ssl_core.registry()
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text().replace("name: simclr", "name: moco"))
    config = load_config(path, [f"encoder.init_from={source_run}"], registry)
    objective = build_pipeline(config, registry).objective
    trained = ssl_core.load_run(source_run).encoder.state_dict()
    assert same(objective.encoder.state_dict(), trained) and same(objective.encoder_momentum.state_dict(), trained)


def test_a_shape_mismatch_is_a_clear_error(source_run, tmp_path):
    with pytest.raises(ConfigError, match=r"override 'encoder.init_from=.*does not fit this encoder: shapes differ "
                                          r"\(features\.0\.weight: \(4, 1, 3, 3\) there, \(8, 1, 3, 3\) here.*same name "
                                          r"and params \(width"):
        built_encoder(tmp_path, f"encoder.init_from={source_run}", "encoder.params.width=8")
    with pytest.raises(ConfigError, match="neither a run folder, a file, nor 'torchvision'"):
        built_encoder(tmp_path, f"encoder.init_from={tmp_path / 'absent'}")


def test_files_are_read_with_weights_only(tmp_path):
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"conv1.weight": Path("/etc/passwd")}, f)  # an object, not a tensor: refused, never unpickled
    with pytest.raises(ConfigError, match="encoder.init_from"):
        built_encoder(tmp_path, f"encoder.init_from={tmp_path / 'evil.pt'}")


def test_torchvision_weights_from_the_local_cache_only(tmp_path, monkeypatch):
    """Absent from the cache: a clear error, no download; present: loaded, and RGB weights refused by a grey encoder."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    torch.hub.set_dir(str(tmp_path / "torch_home" / "hub"))
    try:
        registry = ssl_core.registry()
        path = tiny_pipeline(tmp_path).read_text().replace("encoder: {name: small_cnn, params: {width: 4}}",
                                                             "encoder: {name: resnet18, params: {stem: imagenet}}")
        (tmp_path / "rn.yaml").write_text(path)
        config = load_config(tmp_path / "rn.yaml", ["encoder.init_from=torchvision"], registry)
        with pytest.raises(ConfigError, match=r"ResNet18_Weights.IMAGENET1K_V1 are not at .*never downloads"):
            build_pipeline(config, registry)
        reference = torchvision.models.resnet18()  # stands in for the ImageNet file: same names and shapes
        url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
        cached.parent.mkdir(parents=True)
        torch.save(reference.state_dict(), cached)
        with pytest.raises(ConfigError, match=r"conv1\.weight: \(64, 3, 7, 7\) there, \(64, 1, 7, 7\) here"):
            build_pipeline(config, registry)
    finally:
        torch.hub.set_dir(str(Path.home() / ".cache" / "torch" / "hub"))


def test_torchvision_weights_load_into_an_rgb_resnet(tmp_path):
    import torchvision

    from ssl_core.init_weights import load_initial_weights
    from ssl_encoders.resnet import ResNet18

    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        reference = torchvision.models.resnet18()
        url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
        cached = tmp_path / "hub" / "checkpoints" / Path(url).name
        cached.parent.mkdir(parents=True)
        torch.save(reference.state_dict(), cached)
        encoder = ResNet18(stem="imagenet")
        assert load_initial_weights(encoder, "torchvision") == "torchvision's ResNet18_Weights.IMAGENET1K_V1"
        expected = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
        assert same(encoder.state_dict(), expected)
    finally:
        torch.hub.set_dir(str(Path.home() / ".cache" / "torch" / "hub"))
