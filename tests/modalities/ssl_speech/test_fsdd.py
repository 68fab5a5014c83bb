"""FSDD: the official split and labels on the real recordings, the dataset on a small written tree.

The split is checked on the shared data through the dataset's own listing
functions (decoding all 3,000 recordings would take most of the test budget);
the dataset class, which calls the same functions, runs on a written tree.
"""

from __future__ import annotations

import pytest

from ssl_speech.fsdd import FSDD, parse_recordings, split_recordings


def test_official_split_takes_0_to_4_are_test(shared_data):
    recordings = parse_recordings(shared_data / "fsdd" / "recordings")
    assert len(recordings) == 3000
    train, _ = split_recordings(recordings, "train", "digit")
    test, _ = split_recordings(recordings, "test", "digit")
    assert len(train) == 2700 and len(test) == 300
    take = {r.path: r.take for r in recordings}
    assert {take[p] for p in test} == set(range(5)) and {take[p] for p in train} == set(range(5, 50))
    assert not set(train) & set(test)


def test_digit_and_speaker_labels_on_the_real_recordings(shared_data):
    recordings = parse_recordings(shared_data / "fsdd" / "recordings")
    files, digits = split_recordings(recordings, "train", "digit")
    assert all(d == int(p.stem.split("_")[0]) for p, d in zip(files, digits)) and set(digits) == set(range(10))
    speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    for split in ("train", "test"):
        files, labels = split_recordings(recordings, split, "speaker")
        assert all(speakers[label] == p.stem.split("_")[1] for p, label in zip(files, labels))
        assert set(labels) == set(range(6))


@pytest.fixture
def fsdd_tree(tmp_path, write_audio):
    for digit, speaker, take in [(0, "ann", 0), (0, "ann", 7), (5, "bo", 3), (5, "bo", 12), (9, "ann", 49)]:
        write_audio(tmp_path / "fsdd" / "recordings" / f"{digit}_{speaker}_{take}.wav", sample_rate=8000, seed=take)
    (tmp_path / "fsdd" / "recordings" / "readme.wav").write_text("not a recording: never decoded")
    return tmp_path / "fsdd"


def test_dataset_splits_labels_and_items(fsdd_tree, tmp_path):
    kw = {"root": str(fsdd_tree), "cache_dir": str(tmp_path / "cache")}
    train, test = FSDD(split="train", **kw), FSDD(split="test", task="speaker", **kw)
    assert [p.name for p in train.files] == ["0_ann_7.wav", "5_bo_12.wav", "9_ann_49.wav"]
    assert train.labels == [0, 5, 9] and train.num_classes == 10
    assert [p.name for p in test.files] == ["0_ann_0.wav", "5_bo_3.wav"]
    assert test.labels == [0, 1] and test.num_classes == 2 and test.speakers == ["ann", "bo"]
    x, label = test[1]
    assert x.db.shape == (64, 64) and label == 1  # 0.25 s at 8 kHz, resampled and padded
    assert test.mean == train.mean  # the training statistics


def test_absent_fsdd_explains_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="recordings") as info:
        FSDD(root=str(tmp_path), cache_dir=str(tmp_path))
    assert "download=True" in str(info.value) and "Jakobovski" in str(info.value)
    with pytest.raises(ValueError, match="task"):
        FSDD(root=str(tmp_path), task="gender")
