"""export: the core routes a run's trained backbone to a format a plugin provides; it knows no format itself."""

from __future__ import annotations

import pytest
import torch
import torchvision

import ssl_core
from ssl_core import make_registry
from ssl_core.cli import main
from ssl_core.errors import ParamError, UnknownComponentError
from ssl_core.export import export

from pipeline_helpers import tiny_pipeline


class StateDictFormat:
    """A third-party format: the encoder's state dict scaled by ``factor`` (any encoder)."""

    file_name = "scaled.pt"

    def __init__(self, factor: float = 1.0):
        self.factor = factor

    def write(self, encoder, out):
        torch.save({k: v * self.factor for k, v in encoder.state_dict().items() if v.is_floating_point()}, out)
        return "scaled"


class FormatPlugin:
    @ssl_core.hookimpl
    def ssl_core_export_formats(self):
        return {"scaled": StateDictFormat}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("export")
    assert main(["run", str(tiny_pipeline(tmp_path)), "train.max_steps=2"]) == 0
    return tmp_path / "run"


def test_a_plugin_format_gets_the_trained_encoder_and_its_options(small_run):
    registry = make_registry([FormatPlugin()], autoload=False, warn=False)
    path, note = export(small_run, "scaled", options=["factor=2.0"], registry=registry)
    assert path == small_run / "scaled.pt" and note == "scaled"
    trained = torch.load(small_run / "model.pt", weights_only=True)
    written = torch.load(path, weights_only=True)
    assert written and all(torch.equal(v, 2.0 * trained[f"encoder.{k}"]) for k, v in written.items())
    with pytest.raises(ParamError, match="export format 'scaled': .*'factr'"):
        export(small_run, "scaled", options=["factr=2"], registry=registry)
    with pytest.raises(UnknownComponentError, match="unknown export_format 'scaledd'; valid choices: scaled"):
        export(small_run, "scaledd", registry=registry)


def test_cli_refuses_a_backbone_the_format_cannot_hold_in_one_line(small_run, capsys):
    capsys.readouterr()
    assert main(["export", str(small_run), "--format", "torchvision"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ssl-core: error: the torchvision format holds resnet18 or resnet50") and err.count("\n") == 1
    assert "SmallCNN" in err and not (small_run / "backbone_torchvision.pth").exists()


def test_cli_export_of_a_resnet18_run_loads_as_the_readme_shows(tmp_path, capsys):
    path = tiny_pipeline(tmp_path, test_fraction=0.8)
    path.write_text(path.read_text().replace("views: digits", "views: {name: image, params: {size: 8, augment: none}}")
                    .replace("{name: small_cnn, params: {width: 4}}", "{name: resnet18, params: {stem: imagenet}}"))
    assert main(["run", str(path), "train.max_steps=1"]) == 0
    run = tmp_path / "run"
    assert main(["export", str(run), "num_classes=10"]) == 0
    assert "torchvision.models.resnet18(num_classes=10)" in capsys.readouterr().out
    # the README's code
    model = torchvision.models.resnet18(num_classes=10)
    model.load_state_dict(torch.load(run / "backbone_torchvision.pth"))
    trained = torch.load(run / "model.pt", weights_only=True)
    assert torch.equal(model.state_dict()["layer4.1.bn2.running_mean"], trained["encoder.layer4.1.bn2.running_mean"])
    assert main(["export", str(run), "--format", "detectron2", "--out", str(tmp_path / "d2.pkl")]) == 0
    assert (tmp_path / "d2.pkl").is_file()
