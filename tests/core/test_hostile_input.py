"""Hostile and broken input: each gives a clear error naming what is wrong, or is skipped and counted by design.

Complements tests/core/test_config.py (wrong types, anchors, one python tag,
numeric ranges), test_registry.py (plugins that fail to import or return a
malformed hook result) and the dataset tests (corrupt files read directly).
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from ssl_core import hookimpl, make_registry
from ssl_core.checkpoint_io import CheckpointError, safe_torch_load
from ssl_core.config import load_config, load_config_text
from ssl_core.errors import ConfigError, PluginError
from ssl_core.eval_context import EvalContext
from ssl_core.harness import evaluate_run
from ssl_core.pipeline import build_pipeline
from ssl_core.run import train
from ssl_image.image_dataset import CorruptImageError
from ssl_speech.audio_io import AudioReadError
from ssl_speech.fsdd import FSDD

from pipeline_helpers import TINY_DIGITS, fake_distribution, tiny_pipeline


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pipeline_text(tmp_path: Path, **replace: str) -> str:
    text = TINY_DIGITS.format(epochs=1, every=0, output=tmp_path / "run", test_fraction=0.6)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ---------------------------------------------------------------------------------------------- pipeline files

BIG = "1" + "0" * 30


@pytest.mark.parametrize("old, new, key, says", [
    ("width: 4", f"width: {BIG}", "encoder.params.width", "out of range"),  # was an OverflowError inside torch
    ("out_dim: 16", "out_dim: 16, temperature: .nan", "objective.params.temperature", "finite"),
    ("lr: 0.002", "lr: 1.0e+400", "train.optimizer.lr", "finite"),  # YAML reads it as inf
    ("epochs: 1", f"epochs: {BIG}", "train.epochs", ""),
    ("seed: 3", "seed: 4294967296", "seed", "[0, 4294967295]"),  # numpy's bound, not only 64 bits
    ("lr: 0.002", "lr: 1e-3", "train.optimizer.lr", "write 1.0e-03"),  # YAML 1.1: a string
    ("epochs: 1", "epochs: 1e400", "train.epochs", "must be int"),
    ("epochs: 1", "epochs: 10**30", "train.epochs", "must be int"),
    ("seed: 3", "seed: 2001-12-14", "seed", "must be int"),  # a YAML timestamp
    ("name: tiny", "name: !!binary aGVsbG8=", "name", "must be str"),
    ("width: 4", "width: '4'", "encoder.params.width", "must be int"),
    ("encoder: {name: small_cnn, params: {width: 4}}", "encoder: {name: small_cnn, params: [4]}", "encoder.params",
     "must be dict"),
])
def test_bad_values_name_file_line_and_key(tmp_path, registry, old, new, key, says):
    text = pipeline_text(tmp_path, **{old: new})
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "p.yaml", registry=registry)
    message = str(err.value)
    assert f"p.yaml:{line_of(text, new)}:" in message, message
    assert f"'{key}'" in message and says in message, message


def test_duplicate_keys_are_refused(tmp_path, registry):
    text = pipeline_text(tmp_path, **{"  epochs: 1\n": "  epochs: 1\n  epochs: 1000\n"})
    with pytest.raises(ConfigError, match=rf"p\.yaml:{line_of(text, 'epochs: 1000')}: duplicate key 'train.epochs' "
                                          rf"\(first at line {line_of(text, 'epochs: 1')}\)"):
        load_config_text(text, "p.yaml", registry=registry)


@pytest.mark.parametrize("text", [
    "name: x\nseed: " + "[" * 5000 + "]" * 5000 + "\n",
    "name: x\nseed: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
])
def test_deep_nesting_is_refused_before_it_costs_time_or_the_stack(registry, text):
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"p\.yaml:2: lists or mappings nested more than 64 deep"):
        load_config_text(text, "p.yaml", registry=registry)  # was a RecursionError, after 20 s of parsing
    assert time.perf_counter() - started < 10.0


def test_billion_laughs_is_refused_at_once(registry):
    lines = ["name: x", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="anchors and aliases are not allowed"):
        load_config_text("\n".join(lines) + "\n", "p.yaml", registry=registry)
    assert time.perf_counter() - started < 2.0  # 10**10 'lol's were never built


TAGS = [
    "!!python/object/apply:os.mkdir ['{marker}']",
    "!!python/object/new:os.mkdir ['{marker}']",
    "!!python/name:os.mkdir",
    "!!python/module:os",
    "!!python/object:pathlib.PosixPath {{}}",
]


@pytest.mark.parametrize("tag", TAGS)
def test_python_tags_never_execute_in_files_or_overrides(tmp_path, registry, tag):
    marker = tmp_path / "executed"
    value = tag.format(marker=marker)
    text = pipeline_text(tmp_path, **{"name: tiny": f"name: {value}"})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_text(text, "p.yaml", registry=registry)
    for key in ("name", "encoder.params.width", "train.optimizer.lr"):
        try:  # an override that is not valid safe YAML is at most a string
            config = load_config_text(pipeline_text(tmp_path), "p.yaml", [f"{key}={value}"], registry=registry)
            assert config["name"] == (value if key == "name" else "tiny")
        except ConfigError:
            pass
    assert not marker.exists()


# ----------------------------------------------------------------------------------------------------- plugins

FAULTY_FACTORIES = """
from ssl_core import hookimpl
from ssl_encoders.small_cnn import SmallCNN

class TypeErrorCNN(SmallCNN):
    '''Its constructor has a bug.'''
    def __init__(self, width: int = 4, in_channels: int = 1):
        super().__init__(width="4" + width, in_channels=in_channels)

def cnn_needing_a_missing_package(width: int = 4, in_channels: int = 1):
    import a_package_that_is_not_installed
    return SmallCNN(width=width, in_channels=in_channels)

def cnn_returning_nothing(width: int = 4, in_channels: int = 1):
    SmallCNN(width=width, in_channels=in_channels)

@hookimpl
def ssl_core_encoders():
    return {"typeerror_cnn": TypeErrorCNN, "missing_dep_cnn": cnn_needing_a_missing_package,
            "none_cnn": cnn_returning_nothing}
"""


@pytest.fixture
def faulty_registry(tmp_path, monkeypatch):
    site = tmp_path / "site"
    fake_distribution(site, "faulty-encoders", "faulty_encoders", FAULTY_FACTORIES)
    monkeypatch.syspath_prepend(str(site))
    yield make_registry(autoload=True, warn=False)
    sys.modules.pop("faulty_encoders", None)


@pytest.mark.parametrize("encoder, says", [
    ("typeerror_cnn", "TypeError: can only concatenate str"),
    ("missing_dep_cnn", "No module named 'a_package_that_is_not_installed'"),
    ("none_cnn", "its factory returned None"),
])
def test_a_component_that_fails_to_build_names_itself_and_its_plugin(tmp_path, faulty_registry, encoder, says):
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text().replace("name: small_cnn", f"name: {encoder}"))
    config = load_config(path, registry=faulty_registry)  # valid: the fault is in the plugin's code
    with pytest.raises(PluginError) as err:
        build_pipeline(config, faulty_registry)
    message = str(err.value)
    assert f"encoder '{encoder}'" in message and "'faulty-encoders:faulty_encoders'" in message and says in message


def test_plugins_given_in_python_are_named_by_class():
    class LocalPlugin:
        @hookimpl
        def ssl_core_encoders(self):
            return {"broken": lambda width=4: None}

    local = make_registry(plugins=[LocalPlugin()], autoload=False, warn=False)
    assert local.get("encoder", "broken").plugin == "LocalPlugin"
    with pytest.raises(PluginError, match="the encoder 'broken' of the plugin 'LocalPlugin'"):
        local.build("encoder", "broken")


# ------------------------------------------------------------------------------------------------- checkpoints

class CodeOnUnpickle:
    """Unpickled, it would create a directory: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.mkdir, (self.marker,)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, registry):
    """A 2-step run with a checkpoint and its model.pt."""
    tmp_path = tmp_path_factory.mktemp("short")
    torch.set_num_threads(1)
    config = load_config(tiny_pipeline(tmp_path, epochs=1, every=1, output="short", test_fraction=0.6),
                         ["train.max_steps=2"], registry=registry)
    return config, train(config, registry)


def copy_run(short_run, tmp_path, registry):
    """A copy of the short run, its pipeline pointing at the copy (so that --resume accepts it)."""
    _, run = short_run
    target = tmp_path / "copy"
    shutil.copytree(run, target)
    saved = target / "pipeline.yaml"
    saved.write_text(saved.read_text().replace(str(run), str(target)))
    return load_config(saved, registry=registry), target


@pytest.mark.parametrize("file", ["checkpoints/last.ckpt", "model.pt"])
def test_checkpoints_holding_objects_are_refused_and_run_no_code(tmp_path, registry, short_run, file):
    config, run = copy_run(short_run, tmp_path, registry)
    marker = tmp_path / "code_ran"
    state = safe_torch_load(run / file)
    state["extra"] = CodeOnUnpickle(marker)
    torch.save(state, run / file)
    with pytest.raises(CheckpointError) as err:
        if file == "model.pt":
            evaluate_run(run, registry, progress=lambda _: None)
        else:
            train(config, registry, resume=True)
    assert str(run / file) in str(err.value) and "refusing to load" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("content", ["truncated", "garbage"])
def test_a_broken_checkpoint_is_named(tmp_path, registry, short_run, content):
    """Both checkpoints of an unfinished run damaged: each is named, nothing trains."""
    config, run = copy_run(short_run, tmp_path, registry)
    (run / "model.pt").unlink()  # training unfinished: the checkpoints are needed
    for name in ("last.ckpt", "previous.ckpt"):
        ckpt = run / "checkpoints" / name
        ckpt.write_bytes(ckpt.read_bytes()[:1000] if content == "truncated" else b"not a checkpoint at all")
    with pytest.raises(CheckpointError) as err:
        train(config, registry, resume=True)
    for name in ("last.ckpt", "previous.ckpt"):
        assert f"cannot load {run / 'checkpoints' / name}: truncated or not a checkpoint" in str(err.value)


# -------------------------------------------------------------------------------------------------------- data

def image_tree(root: Path, per_class: int = 2) -> None:
    for split in ("train", "test"):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(np.full((8, 8, 3), 20 * i + (100 if c == "b" else 0), dtype=np.uint8)).save(
                    root / split / c / f"{i}.png")


IMAGE_PIPELINE = """\
name: images
data: {{dataset: image_folder, params: {{root: {root}}}}}
views: {{name: image, params: {{size: 8, augment: crop_flip}}}}
encoder: {{name: small_cnn, params: {{width: 4}}}}
objective: {{name: simclr, params: {{out_dim: 8, hidden_dim: 8}}}}
train: {{epochs: 1, batch_size: 5, progress_bar: false}}  # one batch: all 5 training images
output: {output}
"""


@pytest.mark.parametrize("fault", ["truncated_png", "truncated_jpeg", "not_an_image"])
def test_a_corrupt_image_stops_training_naming_its_file(tmp_path, registry, fault):
    image_tree(tmp_path / "images")
    bad = tmp_path / "images" / "train" / "b" / ("9.jpg" if fault == "truncated_jpeg" else "9.png")
    if fault == "not_an_image":
        bad.write_bytes(b"<html>404 not found</html>")
    else:
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(bad)
        bad.write_bytes(bad.read_bytes()[:300])
    path = tmp_path / "p.yaml"
    path.write_text(IMAGE_PIPELINE.format(root=tmp_path / "images", output=tmp_path / "run"))
    config = load_config(path, registry=registry)
    with pytest.raises(CorruptImageError, match=str(bad)):
        train(config, registry)


def test_an_empty_class_folder_is_named_when_the_pipeline_is_built(tmp_path, registry):
    image_tree(tmp_path / "images")
    for split in ("train", "test"):
        (tmp_path / "images" / split / "c").mkdir()
    path = tmp_path / "p.yaml"
    path.write_text(IMAGE_PIPELINE.format(root=tmp_path / "images", output=tmp_path / "run"))
    with pytest.raises(FileNotFoundError, match=r"hold no image.*train[/\\]c"):
        build_pipeline(load_config(path, registry=registry), registry)


class ShiftedDigits:
    """The digits with every label moved by ``shift``: a dataset plugin whose labels leave [0, num_classes)."""

    num_classes = 10

    def __init__(self, split: str = "train", shift: int = 0):
        from ssl_image.digits import Digits

        self.base, self.shift = Digits(split, test_fraction=0.6), shift

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return x, y + self.shift


class ShiftedDigitsPlugin:
    @hookimpl
    def ssl_core_datasets(self):
        return {"shifted_digits": ShiftedDigits}


@pytest.mark.parametrize("evaluator", ["knn", "linear_probe"])
@pytest.mark.parametrize("shift, label", [(1, 10), (-1, -1)])
def test_labels_out_of_range_are_a_clear_error_in_evaluators(evaluator, shift, label):
    registry = make_registry(plugins=[ShiftedDigitsPlugin()], autoload=False, warn=False)
    views = registry.build("views", "digits")
    ctx = EvalContext(encoder=registry.build("encoder", "small_cnn", {"width": 4}, in_channels=1), registry=registry,
                      dataset="shifted_digits", dataset_params={"shift": shift}, views=views, run_dir=Path("."))
    with pytest.raises(ValueError, match=rf"dataset 'shifted_digits' \(train split\): item \d+ has label {label}, "
                                         r"outside \[0, 10\)"):
        registry.build("evaluator", evaluator, {"epochs": 1} if evaluator == "linear_probe" else {}).evaluate(ctx)


def fsdd_tree(root: Path, faults: dict[str, str]) -> Path:
    """Four training recordings (takes 5-8) and one test recording, some replaced by ``faults``."""
    recordings = root / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("1_alice_5", "2_alice_6", "3_bob_7", "4_bob_8", "5_bob_0"):
        wave = (0.3 * np.sin(np.arange(4000) / 7) + 0.05 * rng.standard_normal(4000)).astype(np.float32)
        fault = faults.get(name)
        if fault == "nan_samples":
            wave[100:110] = np.nan
        path = recordings / f"{name}.wav"
        if fault == "truncated_flac":  # a FLAC cut short, under the .wav name FSDD lists
            soundfile.write(str(path), wave, 8000, format="FLAC")
        else:
            soundfile.write(str(path), wave, 8000, subtype="FLOAT" if fault == "nan_samples" else "PCM_16")
        if fault in ("truncated_flac", "truncated_wav"):
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return root / "fsdd"


FAULTS = {"2_alice_6": "nan_samples", "3_bob_7": "truncated_flac"}


def test_corrupt_audio_raises_naming_the_file_or_is_skipped_and_counted(tmp_path):
    root = fsdd_tree(tmp_path, FAULTS)
    with pytest.raises(AudioReadError, match=r"2_alice_6\.wav: the file holds 10 NaN or infinite samples"):
        FSDD(root=str(root), cache_dir=str(tmp_path / "cache"))
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable audio file\(s\).*2_alice_6\.wav.*3_bob_7\.wav"):
        dataset = FSDD(root=str(root), cache_dir=str(tmp_path / "cache"), on_error="skip")
    assert [p.name for p in dataset.files] == ["1_alice_5.wav", "4_bob_8.wav"]
    assert all(torch.isfinite(dataset[i][0].db).all() for i in range(len(dataset)))


def test_a_wav_cut_short_is_read_up_to_where_it_ends(tmp_path):
    """By design (libsndfile's): a truncated WAV holds fewer samples, not an error."""
    root = fsdd_tree(tmp_path, {"1_alice_5": "truncated_wav"})
    dataset = FSDD(root=str(root), cache_dir=str(tmp_path / "cache"))
    assert len(dataset) == 4 and all(torch.isfinite(dataset[i][0].db).all() for i in range(len(dataset)))


def test_a_component_without_a_readable_signature_is_reported_and_ignored():
    class NoSignaturePlugin:
        @hookimpl
        def ssl_core_encoders(self):
            return {"no_signature": min, "fine": lambda width=4, in_channels=1: torch.nn.Identity()}

    registry = make_registry(plugins=[NoSignaturePlugin()], autoload=False, warn=False)
    (error,) = [e for e in registry.load_errors if e.plugin == "NoSignaturePlugin"]
    assert "'no_signature' has no readable signature" in error.message
    assert "no_signature" not in registry.names("encoder") and "fine" in registry.names("encoder")
    assert all(c.params() is not None for c in registry.components("encoder"))  # what `ssl-core plugins` lists
