from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from ssl_speech.audio_io import AudioReadError, load_audio

LIBRI_FILE = "librispeech-mini/LibriSpeech/train-clean-100/103/1240/103-1240-0000.flac"
FSDD_FILE = "fsdd/recordings/0_george_0.wav"


def test_reads_a_real_flac_at_its_own_rate(shared_data):
    path = shared_data / LIBRI_FILE
    wave = load_audio(path, 16000)
    reference, rate = soundfile.read(str(path), dtype="float32")
    assert rate == 16000
    assert wave.dtype == torch.float32 and wave.dim() == 1
    assert torch.equal(wave, torch.from_numpy(reference))


def test_resamples_a_real_8khz_wav(shared_data):
    path = shared_data / FSDD_FILE
    frames = soundfile.info(str(path)).frames
    wave = load_audio(path, 16000)
    assert soundfile.info(str(path)).samplerate == 8000
    assert wave.shape == (2 * frames,)
    assert wave.abs().max() <= 1.5


def test_mixes_channels_down_to_mono(tmp_path):
    left = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    right = np.full(1000, 0.25, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    wave = load_audio(path, 16000)
    torch.testing.assert_close(wave, torch.from_numpy((left + right) / 2))


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage, not a wave file" * 10])
def test_an_unreadable_file_raises_naming_its_path(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioReadError, match="broken.wav") as info:
        load_audio(path, 16000)
    assert info.value.path == str(path)


def test_a_missing_file_raises_naming_its_path(tmp_path):
    with pytest.raises(AudioReadError, match="nowhere.flac"):
        load_audio(tmp_path / "nowhere.flac", 16000)


def test_an_empty_recording_raises(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(AudioReadError, match="no samples"):
        load_audio(path, 16000)
