"""Unreadable files are found when the dataset is built, never later in a DataLoader worker."""

from __future__ import annotations

import pytest
import torch

from ssl_speech.audio_io import AudioReadError
from ssl_speech.fsdd import FSDD
from ssl_speech.speech_views import LogMelViews


@pytest.fixture
def tree_with_a_corrupt_file(tmp_path, write_audio):
    recordings = tmp_path / "fsdd" / "recordings"
    for name in ("1_alice_5.wav", "2_alice_6.wav", "3_bob_7.wav"):
        write_audio(recordings / name, sample_rate=8000)
    (recordings / "4_bob_8.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    return tmp_path / "fsdd"


def test_raise_names_the_corrupt_file(tree_with_a_corrupt_file, tmp_path):
    with pytest.raises(AudioReadError, match="4_bob_8.wav"):
        FSDD(root=str(tree_with_a_corrupt_file), cache_dir=str(tmp_path / "cache"))


def test_skip_drops_it_with_a_warning_and_a_loader_runs(tree_with_a_corrupt_file, tmp_path):
    kw = {"root": str(tree_with_a_corrupt_file), "cache_dir": str(tmp_path / "cache")}
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable audio file\(s\): \[.*4_bob_8.wav"):
        dataset = FSDD(on_error="skip", **kw)
    assert len(dataset) == 3 and all("4_bob_8" not in p.name for p in dataset.files)
    views = LogMelViews()
    loader = torch.utils.data.DataLoader(
        [(views.train(dataset[i][0]), dataset[i][1]) for i in range(len(dataset))], batch_size=3
    )
    batch, labels = next(iter(loader))
    assert batch.shape == (3, 1, 64, 64) and labels.tolist() == [1, 2, 3]
    with pytest.warns(UserWarning, match="skipped 1"):  # the reused cache still reports it
        FSDD(on_error="skip", **kw)
    with pytest.raises(AudioReadError, match="4_bob_8.wav"):  # and "raise" still refuses it
        FSDD(**kw)


def test_on_error_is_validated(tree_with_a_corrupt_file):
    with pytest.raises(ValueError, match="on_error"):
        FSDD(root=str(tree_with_a_corrupt_file), on_error="ignore")
