from __future__ import annotations

import pytest

from ssl_speech.speech_commands import WORDS, SpeechCommands


def relative(path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_official_lists_split_the_mini_corpus(shared_data, speech_cache):
    root = shared_data / "speech-commands-mini"
    folder = root / "speech_commands_v0.01"
    testing = set(folder.joinpath("testing_list.txt").read_text().split())
    validation = set(folder.joinpath("validation_list.txt").read_text().split())
    kw = {"root": str(root), "cache_dir": str(speech_cache)}
    train, test = SpeechCommands(split="train", **kw), SpeechCommands(split="test", **kw)
    assert train.num_classes == test.num_classes == 30
    assert len(train) + len(test) == 300
    assert {relative(p) for p in test.files} == {r for r in testing if (folder / r).is_file()}
    assert not {relative(p) for p in train.files} & testing
    in_validation = {relative(p) for p in train.files} & validation
    assert in_validation  # the validation clips train, as in the reference
    for dataset in (train, test):
        assert all(dataset.words[label] == p.parent.name for p, label in zip(dataset.files, dataset.labels))
    train.train_includes_validation = False  # the listing alone (a dataset built so decodes its own list)
    strict, _ = train.list_split("train")
    assert {relative(p) for p in strict} == {relative(p) for p in train.files} - validation


@pytest.fixture
def v002_tree(tmp_path, write_audio):
    folder = tmp_path / "speech_commands_v0.02"
    clips = ["backward/aa_nohash_0.wav", "backward/bb_nohash_0.wav", "yes/aa_nohash_0.wav", "yes/cc_nohash_1.wav"]
    for i, clip in enumerate(clips):
        write_audio(folder / clip, seconds=1.0, seed=i)
    write_audio(folder / "_background_noise_" / "white_noise.wav", seconds=2.0)
    (folder / "testing_list.txt").write_text("yes/cc_nohash_1.wav\nbackward/zz_nohash_0.wav\n")
    (folder / "validation_list.txt").write_text("backward/bb_nohash_0.wav\n")
    return tmp_path


def test_v002_has_35_words_and_excludes_background_noise(v002_tree, tmp_path):
    kw = {"root": str(v002_tree), "version": "v0.02", "cache_dir": str(tmp_path / "cache")}
    train, test = SpeechCommands(split="train", **kw), SpeechCommands(split="test", **kw)
    assert train.num_classes == len(WORDS["v0.02"]) == 35
    assert [relative(p) for p in train.files] == ["backward/aa_nohash_0.wav", "backward/bb_nohash_0.wav", "yes/aa_nohash_0.wav"]
    assert [relative(p) for p in test.files] == ["yes/cc_nohash_1.wav"]
    assert train.labels == [WORDS["v0.02"].index("backward")] * 2 + [WORDS["v0.02"].index("yes")]


def test_missing_corpus_or_list_files(tmp_path, v002_tree):
    with pytest.raises(FileNotFoundError, match="speech_commands_v0.01") as info:
        SpeechCommands(root=str(tmp_path / "none"), cache_dir=str(tmp_path))
    assert "download.tensorflow.org" in str(info.value)
    (v002_tree / "speech_commands_v0.02" / "testing_list.txt").unlink()
    with pytest.raises(FileNotFoundError, match="testing_list.txt"):
        SpeechCommands(root=str(v002_tree), version="v0.02", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="version"):
        SpeechCommands(root=str(v002_tree), version="v0.03")
