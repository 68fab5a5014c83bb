"""Pipeline files: every error names file, line, key and valid choices; overrides."""

from __future__ import annotations

import pytest

from ssl_core import make_registry
from ssl_core.config import load_config
from ssl_core.errors import ConfigError

from pipeline_helpers import tiny_pipeline


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_valid_file_fills_defaults(tmp_path, registry):
    config = load_config(tiny_pipeline(tmp_path), registry=registry)
    assert config["train"]["optimizer"]["momentum"] == 0.9
    assert config["objective"]["negatives"] == {"source": None, "select": None}
    assert config["views"] == {"name": "digits", "params": {}}


def test_unknown_key_gives_line_and_nearest_choice(tmp_path, registry):
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text().replace("  epochs:", "  epoch:"))
    with pytest.raises(ConfigError) as err:
        load_config(path, registry=registry)
    message = str(err.value)
    assert f"{path}:{line_of(path, 'epoch:')}:" in message
    assert "unknown key 'train.epoch'" in message
    assert "valid choices: epochs," in message


def test_wrong_type_gives_line_and_expected_type(tmp_path, registry):
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text().replace("batch_size: 64", "batch_size: sixty"))
    with pytest.raises(ConfigError) as err:
        load_config(path, registry=registry)
    assert f":{line_of(path, 'batch_size')}:" in str(err.value)
    assert "'train.batch_size'" in str(err.value) and "must be int" in str(err.value)


def test_unknown_component_lists_registered_names_nearest_first(tmp_path, registry):
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text().replace("name: simclr", "name: simclrr"))
    with pytest.raises(ConfigError) as err:
        load_config(path, registry=registry)
    message = str(err.value)
    assert f":{line_of(path, 'simclrr')}:" in message
    assert "unknown objective 'simclrr'; valid choices: simclr" in message


def test_unknown_component_param_names_its_line(tmp_path, registry):
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text().replace("out_dim: 16", "outdim: 16"))
    with pytest.raises(ConfigError) as err:
        load_config(path, registry=registry)
    message = str(err.value)
    assert f":{line_of(path, 'outdim')}:" in message
    assert "unknown parameter 'outdim'" in message and "valid choices: out_dim" in message


def test_literal_choice_lists_valid_values(tmp_path, registry):
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text().replace("name: adam", "name: adamw"))
    with pytest.raises(ConfigError) as err:
        load_config(path, registry=registry)
    assert "valid choices: adam" in str(err.value)


def test_missing_required_key(tmp_path, registry):
    path = write(tmp_path, "name: x\nviews: digits\nencoder: small_cnn\nobjective: {name: simclr}\n")
    with pytest.raises(ConfigError, match="'data.dataset': is required"):
        load_config(path, registry=registry)


def test_invalid_yaml_names_the_line(tmp_path, registry):
    path = write(tmp_path, "name: x\ndata: {dataset: digits\nviews: digits\n")
    with pytest.raises(ConfigError, match=r"p\.yaml:\d+: not valid YAML"):
        load_config(path, registry=registry)


def test_anchors_and_aliases_are_refused(tmp_path, registry):
    path = write(tmp_path, "name: x\na: &big [1, 2]\nb: *big\n")
    with pytest.raises(ConfigError, match="anchors and aliases are not allowed"):
        load_config(path, registry=registry)


def test_python_tags_cannot_execute(tmp_path, registry):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, registry=registry)


def test_overrides_set_typed_values(tmp_path, registry):
    config = load_config(tiny_pipeline(tmp_path), ["train.epochs=5", "train.optimizer.lr=0.1", "encoder.params.width=8",
                                                   "objective.negatives.source=in_batch"], registry=registry)
    assert config["train"]["epochs"] == 5 and config["train"]["optimizer"]["lr"] == 0.1
    assert config["encoder"]["params"]["width"] == 8
    assert config["objective"]["negatives"]["source"] == {"name": "in_batch", "params": {}}


def test_override_errors_name_the_override(tmp_path, registry):
    with pytest.raises(ConfigError) as err:
        load_config(tiny_pipeline(tmp_path), ["train.epoch=5"], registry=registry)
    assert "command-line override 'train.epoch=5'" in str(err.value) and "valid choices: epochs" in str(err.value)
    with pytest.raises(ConfigError, match="must look like key=value"):
        load_config(tiny_pipeline(tmp_path), ["train.epochs"], registry=registry)


@pytest.mark.parametrize("override, key", [
    ("data.num_workers=1000000000000000000000000000000", "data.num_workers"),
    ("train.epochs=1e400", "train.epochs"),
    ("train.epochs=0", "train.epochs"),
    ("train.optimizer.lr=.nan", "train.optimizer.lr"),
    ("train.optimizer.lr=-1.0", "train.optimizer.lr"),
    ("train.devices=-5", "train.devices"),
    ("eval_options.batch_size=0", "eval_options.batch_size"),
])
def test_numbers_out_of_range_are_refused(tmp_path, registry, override, key):
    with pytest.raises(ConfigError) as err:
        load_config(tiny_pipeline(tmp_path), [override], registry=registry)
    assert f"'{key}'" in str(err.value) and f"override '{override}'" in str(err.value)
