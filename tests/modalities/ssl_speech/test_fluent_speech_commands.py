from __future__ import annotations

import pytest

from ssl_speech.fluent_speech_commands import CLASSES, FluentSpeechCommands

HEADER = ",path,speakerId,transcription,action,object,location\n"
ROWS = {
    "train": [
        ("spkA", "u1", "Turn on the lights", "activate", "lights", "none"),
        ("spkA", "u2", "Bring me my shoes", "bring", "shoes", "none"),
    ],
    "valid": [("spkB", "u3", "Turn the heat up in the kitchen", "increase", "heat", "kitchen")],
    "test": [("spkC", "u4", "Switch the language to German", "change language", "German", "none"),
             ("spkC", "u5", "Lower the volume in the bedroom", "decrease", "volume", "bedroom")],
}  # fmt: skip


@pytest.fixture
def fluent_tree(tmp_path, write_audio):
    folder = tmp_path / "fluent_speech_commands_dataset"
    for name, rows in ROWS.items():
        lines = [HEADER]
        for i, (speaker, uid, text, action, obj, location) in enumerate(rows):
            relative = f"wavs/speakers/{speaker}/{uid}.wav"
            write_audio(folder / relative, seconds=0.5, seed=i)
            lines.append(f"{i},{relative},{speaker},{text},{action},{obj},{location}\n")
        (folder / "data").mkdir(parents=True, exist_ok=True)
        (folder / "data" / f"{name}_data.csv").write_text("".join(lines))
    return tmp_path


@pytest.mark.parametrize("task", ["action", "object", "location"])
def test_tasks_labels_and_official_split(fluent_tree, tmp_path, task):
    kw = {"root": str(fluent_tree), "task": task, "cache_dir": str(tmp_path / "cache")}
    train, test = FluentSpeechCommands(split="train", **kw), FluentSpeechCommands(split="test", **kw)
    column = {"action": 3, "object": 4, "location": 5}[task]
    assert train.num_classes == len(CLASSES[task]) == {"action": 6, "object": 14, "location": 4}[task]
    assert [p.stem for p in train.files] == ["u1", "u2", "u3"]  # train + valid
    assert [p.stem for p in test.files] == ["u4", "u5"]
    expected = [CLASSES[task].index(r[column]) for r in ROWS["train"] + ROWS["valid"]]
    assert train.labels == expected
    assert test.labels == [CLASSES[task].index(r[column]) for r in ROWS["test"]]


def test_validation_can_be_left_out(fluent_tree, tmp_path):
    train = FluentSpeechCommands(root=str(fluent_tree), train_includes_validation=False, cache_dir=str(tmp_path / "c"))
    assert [p.stem for p in train.files] == ["u1", "u2"]


def test_an_unknown_label_names_the_file_and_line(fluent_tree, tmp_path):
    csv = fluent_tree / "fluent_speech_commands_dataset" / "data" / "test_data.csv"
    csv.write_text(csv.read_text().replace("decrease", "shrink"))
    with pytest.raises(ValueError, match="test_data.csv line 3: unknown action 'shrink'"):
        FluentSpeechCommands(split="test", root=str(fluent_tree), cache_dir=str(tmp_path / "c"))


def test_absent_fluent_has_no_public_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="no public download link") as info:
        FluentSpeechCommands(root=str(tmp_path), download=True, cache_dir=str(tmp_path))
    assert "fluent_speech_commands_dataset" in str(info.value)
