from __future__ import annotations

import pytest
import soundfile

from ssl_speech.librispeech import LibriSpeech
from ssl_speech.librispeech_speakers import LibriSpeechSpeakers, split_per_speaker


def test_librispeech_mini_one_utterance_per_speaker(shared_data, speech_cache):
    root = str(shared_data / "librispeech-mini")
    train = LibriSpeech(root=root, cache_dir=str(speech_cache))
    assert len(train) == 251 and train.num_classes == 251
    assert [f.stem for f in train.files] == sorted(f.stem for f in train.files)
    for path, label in zip(train.files, train.labels):
        assert train.speakers[label] == int(path.parts[-3]) == int(path.stem.split("-")[0])
    assert train.speakers == sorted(train.speakers)
    x, label = train[10]
    assert label == train.labels[10]
    n_frames = 1 + max(soundfile.info(str(train.files[10])).frames, 150_526) // 2360
    assert x.db.shape == (64, n_frames)
    # by default the test split is the same subset (the reference pretraining configs)
    test = LibriSpeech(split="test", root=root, cache_dir=str(speech_cache))
    assert test.files == train.files and test.mean == train.mean


def test_a_missing_subset_names_the_folder(shared_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="dev-clean") as info:
        LibriSpeech(split="test", root=str(shared_data / "librispeech-mini"), test_subset="dev-clean", cache_dir=str(tmp_path))
    assert "download=True" in str(info.value)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nothing" / "LibriSpeech" / "train-clean-100")):
        LibriSpeech(root=str(tmp_path / "nothing"), cache_dir=str(tmp_path))


def test_root_defaults_to_ssl_core_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CORE_DATA", str(tmp_path / "corpora"))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "corpora" / "librispeech" / "LibriSpeech")):
        LibriSpeech(cache_dir=str(tmp_path))


@pytest.fixture
def libri_tree(tmp_path, write_audio):
    """dev-clean with 3 speakers of 5, 5 and 4 utterances over two chapters (official layout, flac)."""
    counts = {84: 5, 174: 5, 1272: 4}
    for speaker, n in counts.items():
        for u in range(n):
            chapter = 100 + u % 2
            name = f"{speaker}-{chapter}-{u:04d}.flac"
            write_audio(tmp_path / "LibriSpeech" / "dev-clean" / str(speaker) / str(chapter) / name, seed=speaker + u)
    return tmp_path


def test_speaker_split_is_80_20_per_speaker_and_seeded(libri_tree, tmp_path):
    kw = {"root": str(libri_tree), "cache_dir": str(tmp_path / "cache")}
    train, test = LibriSpeechSpeakers(split="train", **kw), LibriSpeechSpeakers(split="test", **kw)
    assert train.num_classes == test.num_classes == 3 and train.speakers == [84, 174, 1272]
    assert not set(train.files) & set(test.files)
    assert len(train.files) + len(test.files) == 14
    per_speaker = {s: sum(int(f.stem.split("-")[0]) == s for f in train.files) for s in (84, 174, 1272)}
    assert per_speaker == {84: 4, 174: 4, 1272: 3}  # int(0.8 * n)
    for dataset in (train, test):
        for path, label in zip(dataset.files, dataset.labels):
            assert dataset.speakers[label] == int(path.stem.split("-")[0])
    again = LibriSpeechSpeakers(split="test", **kw)
    assert again.files == test.files
    other = [LibriSpeechSpeakers(split="test", seed=s, **kw).files for s in range(5)]
    assert any(files != test.files for files in other)


def test_speaker_split_reproduces_the_reference_algorithm():
    import numpy as np

    speakers = [5, 5, 5, 5, 5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    rs = np.random.RandomState(42)  # Tamkin et al.'s LibriSpeechTransfer.train_test_split
    expected_train = []
    for speaker in sorted(set(speakers)):
        idx = np.where(np.array(speakers) == speaker)[0]
        rs.shuffle(idx)
        expected_train.extend(idx[: int(0.8 * len(idx))].tolist())
    split = split_per_speaker(speakers, 0.8, 42)
    assert split["train"] == expected_train
    assert sorted(split["train"] + split["test"]) == list(range(15))


def test_speaker_split_on_librispeech_mini_has_no_training_utterance(shared_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="no audio files in the 'train' split"):
        LibriSpeechSpeakers(root=str(shared_data / "librispeech-mini"), subset="train-clean-100", cache_dir=str(tmp_path))


def test_speaker_split_parameters_are_validated(libri_tree, tmp_path):
    with pytest.raises(ValueError, match="train_fraction"):
        LibriSpeechSpeakers(root=str(libri_tree), train_fraction=1.0, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        LibriSpeechSpeakers(split="valid", root=str(libri_tree), cache_dir=str(tmp_path))
