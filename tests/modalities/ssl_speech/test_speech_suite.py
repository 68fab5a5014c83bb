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
