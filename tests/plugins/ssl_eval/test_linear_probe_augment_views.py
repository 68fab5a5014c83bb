"""The linear probe's own training-side augmentation (``augment_views``), e.g. the paper's crop + flip (Sec. 4.1)."""

from __future__ import annotations

import pytest
import torch

from ssl_core import hookimpl, make_registry
from ssl_core.config import load_config_text
from ssl_core.errors import ConfigError
from ssl_core.eval_context import EvalContext
from ssl_eval.linear_probe import LinearProbe

from eval_fixtures import Blobs, IdentityViews, LinearEncoder


class ShiftedViews(IdentityViews):
    """Training views far from every eval view: a probe trained on them fails on the test split."""

    def __init__(self, shift: float = 100.0):
        self.shift = shift

    def train(self, x):
        return x + self.shift


class OtherEval(IdentityViews):
    def eval(self, x):
        return 2 * x


class Plugin:
    @hookimpl
    def ssl_core_datasets(self):
        return {"blobs": Blobs}

    @hookimpl
    def ssl_core_views(self):
        return {"identity": IdentityViews, "shifted": ShiftedViews, "other_eval": OtherEval}


@pytest.fixture(scope="module")
def registry():
    return make_registry(plugins=[Plugin()], autoload=False, warn=False)


def context(registry, tmp_path) -> EvalContext:
    torch.manual_seed(0)
    return EvalContext(encoder=LinearEncoder().eval(), registry=registry, dataset="blobs", dataset_params={},
                       views=IdentityViews(), run_dir=tmp_path, batch_size=64)


def test_the_probe_trains_on_its_own_views(registry, tmp_path):
    plain = LinearProbe(epochs=10, lrs=[1.0], augment=True).evaluate(context(registry, tmp_path))
    shifted = LinearProbe(epochs=10, lrs=[1.0], augment=True, augment_views={"name": "shifted", "params": {"shift": 100.0}})
    outcome = shifted.evaluate(context(registry, tmp_path))
    assert plain["metrics"]["top1"] > 0.9
    assert outcome["metrics"]["top1"] < plain["metrics"]["top1"] - 0.2  # trained on x + 100, tested on x
    assert outcome["protocol"]["augment_views"] == {"name": "shifted", "params": {"shift": 100.0}}
    assert plain["protocol"]["augment_views"] == "the pipeline's views"
    assert LinearProbe(epochs=1).protocol()["augment_views"] is None


def test_views_with_another_eval_view_are_refused(registry, tmp_path):
    probe = LinearProbe(epochs=1, lrs=[0.1], augment=True, augment_views={"name": "other_eval"})
    with pytest.raises(ValueError, match="augment_views: the eval view of 'other_eval' .* differs from the pipeline's"):
        probe.evaluate(context(registry, tmp_path))
    with pytest.raises(ValueError, match="augment_views: .* only with augment: true"):
        LinearProbe(augment_views={"name": "identity"})


def test_image_crop_flip_views_keep_only_crop_and_flip_and_match_the_eval_view():
    """The probe views of the paper's protocol: crop (area 0.08-1, as RandomResizedCrop(32)) and flip, nothing else."""
    registry = make_registry(autoload=False, warn=False)
    pipeline_views = registry.build("views", "image", {"size": 32, "augment": "simclr", "blur_prob": 0.0})
    probe_views = registry.build("views", "image", {"size": 32, "augment": "crop_flip"})
    steps = [type(t).__name__ for t in probe_views._train.transforms]
    assert "RandomResizedCrop" in steps and "RandomHorizontalFlip" in steps
    assert not {"ColorJitter", "RandomGrayscale", "RandomApply", "GaussianBlur"} & set(steps)
    crop = next(t for t in probe_views._train.transforms if type(t).__name__ == "RandomResizedCrop")
    assert tuple(crop.scale) == (0.08, 1.0)
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    assert torch.equal(probe_views.eval(image), pipeline_views.eval(image))


PIPELINE = """\
name: probe
data: {dataset: digits}
views: digits
encoder: {name: small_cnn, params: {width: 4}}
objective: {name: simclr}
evaluate:
  - name: linear_probe
    params:
      augment: true
      augment_views: AUGMENT_VIEWS
"""


def test_augment_views_are_validated_with_their_line():
    registry = make_registry(autoload=False, warn=False)
    load_config_text(PIPELINE.replace("AUGMENT_VIEWS", "{name: digits, params: {}}"), "p.yaml", registry=registry)
    with pytest.raises(ConfigError, match=r"p\.yaml:10: .*unknown views 'imag'; valid choices: image"):
        load_config_text(PIPELINE.replace("AUGMENT_VIEWS", "{name: imag}"), "p.yaml", registry=registry)
    with pytest.raises(ConfigError, match=r"p\.yaml:10: .*augment_views.params.*unknown parameter 'augmnt'.*augment"):
        load_config_text(PIPELINE.replace("AUGMENT_VIEWS", "{name: image, params: {augmnt: crop_flip}}"), "p.yaml",
                         registry=registry)
    with pytest.raises(ConfigError, match=r"p\.yaml:10: .*unknown key 'evaluate\.0\.params\.augment_views\.parms'"):
        load_config_text(PIPELINE.replace("AUGMENT_VIEWS", "{name: image, parms: {}}"), "p.yaml", registry=registry)


def test_the_resnet50_pipeline_probes_with_crop_and_flip():
    from pathlib import Path

    from ssl_core.config import load_config

    registry = make_registry(autoload=False, warn=False)
    path = Path(__file__).resolve().parents[3] / "examples" / "pipelines" / "nac_resnet50_1xb1000-coslr-1000e_cifar10.yaml"
    values = load_config(path, registry=registry).values
    probe = next(e for e in values["evaluate"] if e["name"] == "linear_probe")["params"]
    assert probe["augment"] is True and probe["augment_views"]["name"] == "image"
    assert probe["augment_views"]["params"]["augment"] == "crop_flip"
    views = registry.build("views", values["views"]["name"], values["views"]["params"])
    own = registry.build("views", "image", probe["augment_views"]["params"])
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    assert torch.equal(own.eval(image), views.eval(image))
