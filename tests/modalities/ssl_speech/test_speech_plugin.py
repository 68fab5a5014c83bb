from __future__ import annotations

import pytest

from ssl_core.errors import ParamError
from ssl_core.registry import make_registry

DATASETS = {"librispeech", "librispeech_speakers", "fsdd", "audiomnist", "speech_commands", "fluent_speech_commands"}


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def test_components_are_registered_by_the_builtin_plugin(registry):
    assert DATASETS <= set(registry.names("dataset"))
    assert "log_mel" in registry.names("views")
    assert {"speech", "speech_mini"} <= set(registry.names("suite"))
    assert {registry.get("dataset", n).plugin for n in DATASETS} == {"ssl_speech.plugin"}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_takes_the_common_parameters(registry, name):
    params = {p.name: p for p in registry.get("dataset", name).params()}
    assert "split" not in params  # context
    for common in ("root", "download", "sample_rate", "num_samples", "size", "cache_dir", "on_error"):
        assert common in params
    assert params["sample_rate"].default == 16000 and params["num_samples"].default == 150_526
    assert params["size"].default == 64 and params["on_error"].default == "raise"


def test_out_of_range_values_become_param_errors(registry, tmp_path):
    with pytest.raises(ParamError, match="size"):
        registry.build("dataset", "fsdd", {"root": str(tmp_path), "size": 1}, split="train")
    with pytest.raises(ParamError, match="freq_mask_width"):
        registry.build("views", "log_mel", {"freq_mask_width": -3})
    with pytest.raises(ParamError):
        registry.build("dataset", "fsdd", {"task": "gender"}, split="train")


def test_views_build_with_defaults(registry):
    views = registry.build("views", "log_mel")
    assert views.n_views == 2 and callable(views.train) and callable(views.eval)
