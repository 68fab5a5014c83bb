from __future__ import annotations

from pathlib import Path

import pytest

from ssl_core.params import validate_params
from ssl_core.registry import CONTEXT_PARAMS, make_registry
from ssl_core.suite import SuiteTask


@pytest.fixture(scope="module")
def registry():
    return make_registry(autoload=False, warn=False)


def test_speech_suite_lists_the_table_6a_tasks(registry):
    tasks = registry.build("suite", "speech")
    assert [t.title for t in tasks] == [
        "librispeech speaker id", "audiomnist digit", "speech commands",
        "fluent action", "fluent object", "fluent location", "fsdd digit", "fsdd speaker",
    ]  # fmt: skip
    assert all(isinstance(t, SuiteTask) and t.views == "log_mel" for t in tasks)
    for task in tasks:
        validate_params(registry.get("dataset", task.dataset).factory, task.params, CONTEXT_PARAMS["dataset"])
        validate_params(registry.get("views", task.views).factory, task.views_params, CONTEXT_PARAMS["views"])
        assert "root" not in task.params  # each dataset's default root
    assert {t.params["task"] for t in tasks if t.dataset == "fluent_speech_commands"} == {"action", "object", "location"}


def test_data_root_gives_each_dataset_its_folder(registry):
    tasks = registry.build("suite", "speech", {"data_root": "/corpora/"})
    roots = {t.dataset: t.params["root"] for t in tasks}
    assert roots == {
        "librispeech_speakers": "/corpora/librispeech",
        "audiomnist": "/corpora/audiomnist",
        "speech_commands": "/corpora/speech_commands",
        "fluent_speech_commands": "/corpora/fluent_speech_commands",
        "fsdd": "/corpora/fsdd",
    }


def test_absent_datasets_raise_file_not_found(registry, tmp_path):
    for task in registry.build("suite", "speech", {"data_root": str(tmp_path)}):
        with pytest.raises(FileNotFoundError, match=str(tmp_path)):
            registry.build("dataset", task.dataset, {**task.params, "cache_dir": str(tmp_path / "c")}, split="train")


def test_speech_mini_points_at_the_shared_data(registry, shared_data, speech_cache):
    tasks = registry.build("suite", "speech_mini", {"data_root": str(shared_data)})
    assert [t.title for t in tasks] == ["fsdd digit", "fsdd speaker", "speech commands mini"]
    for task in tasks:
        validate_params(registry.get("dataset", task.dataset).factory, task.params, CONTEXT_PARAMS["dataset"])
        assert Path(task.params["root"]).is_dir()
    commands = tasks[2]
    params = {**commands.params, "cache_dir": str(speech_cache)}
    test = registry.build("dataset", commands.dataset, params, split="test")
    views = registry.build("views", commands.views, commands.views_params)
    x, label = test[0]
    assert views.eval(x).shape == (1, 64, 64) and 0 <= label < test.num_classes == 30


def test_speech_mini_default_root_is_relative_to_the_checkout(registry):
    tasks = registry.build("suite", "speech_mini")
    assert tasks[0].params["root"] == "../shared/data/fsdd"


@pytest.mark.parametrize("suite", ["speech", "speech_mini"])
def test_num_samples_reaches_every_task_and_sets_its_frames(registry, suite):
    tasks = registry.build("suite", suite, {"data_root": "/corpora", "num_samples": 16000})
    assert tasks and all(t.params["num_samples"] == 16000 for t in tasks)
    for task in tasks:  # every dataset takes the key
        validate_params(registry.get("dataset", task.dataset).factory, task.params, CONTEXT_PARAMS["dataset"])
    assert all("num_samples" not in t.params for t in registry.build("suite", suite, {"data_root": "/corpora"}))


def test_one_second_crops_span_the_clip_in_64_frames(registry, shared_data, speech_cache):
    """A 1 s crop: 64 frames of 251 samples (16 ms) instead of the paper's 2,360; an FSDD digit fills them."""
    task = registry.build("suite", "speech_mini", {"data_root": str(shared_data), "num_samples": 16000})[0]
    data = registry.build("dataset", task.dataset, {**task.params, "cache_dir": str(speech_cache)}, split="test")
    assert data.features.hop_length == 251 and data.features.num_samples == 16000
    long = registry.build("suite", "speech_mini", {"data_root": str(shared_data)})[0]
    padded = registry.build("dataset", long.dataset, {**long.params, "cache_dir": str(speech_cache)}, split="test")
    x_short, x_long = data[0][0], padded[0][0]
    floor = lambda item: (item.db <= item.db.max() - item.top_db + 1e-3).float().mean(0)  # frames at the floor
    # the digit occupies most of the 1 s crop but only a few frames of the 9.4 s one
    assert (floor(x_short) < 0.5).float().mean() > (floor(x_long) < 0.5).float().mean() + 0.3


@pytest.mark.parametrize("bad", [0, 63])
def test_num_samples_out_of_range_is_a_clear_error(registry, bad):
    with pytest.raises(ValueError, match=f"num_samples must be an integer >= 64 .* got {bad}"):
        registry.build("suite", "speech_mini", {"num_samples": bad})


@pytest.mark.parametrize("bad", [1.5, "16000"])
def test_num_samples_of_another_type_is_named(registry, bad):
    with pytest.raises(Exception, match="parameter 'num_samples' must be int"):
        registry.build("suite", "speech_mini", {"num_samples": bad})
