from __future__ import annotations

import pytest

from ssl_speech.audiomnist import SPEAKER_GROUPS, AudioMNIST, fold_speakers


def test_folds_partition_the_60_speakers():
    assert sorted(s for group in SPEAKER_GROUPS for s in group) == list(range(1, 61))
    for fold in range(5):
        split = fold_speakers(fold)
        assert len(split["train"]) == 48 and len(split["test"]) == 12
        assert not split["train"] & split["test"]
    assert fold_speakers(0)["test"] == {26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51}


@pytest.fixture
def audiomnist_tree(tmp_path, write_audio):
    """Speakers 26 (a fold-0 test speaker), 28 and 12 (fold-0 training): digits 3 and 7, takes 0 and 1, 48 kHz."""
    for speaker in (26, 28, 12):
        for digit in (3, 7):
            for take in (0, 1):
                name = f"{digit}_{speaker:02d}_{take}.wav"
                write_audio(tmp_path / "data" / f"{speaker:02d}" / name, seconds=0.3, sample_rate=48000, seed=speaker + take)
    (tmp_path / "data" / "audioMNIST_meta.txt").write_text("{}")
    return tmp_path


def test_fold0_speaker_split_and_digit_labels(audiomnist_tree, tmp_path):
    kw = {"root": str(audiomnist_tree), "cache_dir": str(tmp_path / "cache")}
    train, test = AudioMNIST(split="train", **kw), AudioMNIST(split="test", **kw)
    assert train.num_classes == test.num_classes == 10
    assert {p.parent.name for p in train.files} == {"12", "28"} and len(train) == 8
    assert {p.parent.name for p in test.files} == {"26"} and len(test) == 4
    assert all(label == int(p.name[0]) for p, label in zip(train.files + test.files, train.labels + test.labels))
    x, _ = test[0]
    assert x.db.shape == (64, 64)  # 0.3 s at 48 kHz, resampled to 16 kHz and padded


def test_other_folds_move_speakers(audiomnist_tree, tmp_path):
    test = AudioMNIST(split="test", fold=1, root=str(audiomnist_tree), cache_dir=str(tmp_path / "cache"))
    assert {p.parent.name for p in test.files} == {"28"}


def test_absent_audiomnist(tmp_path):
    with pytest.raises(FileNotFoundError, match="data") as info:
        AudioMNIST(root=str(tmp_path), cache_dir=str(tmp_path))
    assert "soerenab/AudioMNIST" in str(info.value)
    with pytest.raises(ValueError, match="fold"):
        AudioMNIST(root=str(tmp_path), fold=5)
