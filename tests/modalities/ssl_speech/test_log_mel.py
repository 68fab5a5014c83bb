"""Log-mel features against librosa on real recordings, and the hop/frame derivation.

Tolerance: the two implementations agree to 1e-3 dB in absolute value (both
float32; the measured largest difference is about 1.2e-4 dB).
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from ssl_speech.audio_io import load_audio
from ssl_speech.crop import crop_or_pad
from ssl_speech.log_mel import REFERENCE_HOPS, LogMel, derive_hop_length

LIBRI_FILE = "librispeech-mini/LibriSpeech/train-clean-100/103/1240/103-1240-0000.flac"
FSDD_FILE = "fsdd/recordings/7_jackson_32.wav"
TOLERANCE_DB = 1e-3


def librosa_log_mel(wave: np.ndarray, hop: int, n_mels: int = 64) -> np.ndarray:
    """The reference features without the reference's squaring defect; mel defaults made explicit."""
    power = librosa.feature.melspectrogram(
        y=wave, sr=16000, n_fft=2048, hop_length=hop, n_mels=n_mels, window="hann", center=True,
        pad_mode="reflect", power=2.0, htk=False, norm="slaney",
    )  # fmt: skip
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0)


@pytest.mark.parametrize("size", sorted(REFERENCE_HOPS))
def test_reference_hops_give_square_spectrograms(size):
    features = LogMel(size=size)
    assert features.hop_length == REFERENCE_HOPS[size]
    assert features(torch.zeros(150_526)).shape == (size, size)


@pytest.mark.parametrize("num_samples", [16_000, 48_000, 100_000, 150_527])
@pytest.mark.parametrize("size", [32, 64, 112])
def test_derived_hop_gives_size_frames(num_samples, size):
    hop = derive_hop_length(num_samples, size)
    assert 1 + num_samples // hop == size
    assert 1 + num_samples // (hop - 1) > size  # the smallest such hop
    assert LogMel(num_samples=num_samples, size=size)(torch.zeros(num_samples)).shape == (size, size)


def test_impossible_frame_counts_are_rejected():
    with pytest.raises(ValueError, match="num_samples"):
        derive_hop_length(16_000, 224)
    with pytest.raises(ValueError, match="size"):
        LogMel(size=1)
    with pytest.raises(ValueError, match="hop_length"):
        LogMel(hop_length=1000)


def test_matches_librosa_on_a_real_librispeech_crop(shared_data):
    wave = crop_or_pad(load_audio(shared_data / LIBRI_FILE, 16000), 150_526, "start")
    ours = LogMel()(wave).numpy()
    reference = librosa_log_mel(wave.numpy(), hop=2360)
    assert ours.shape == reference.shape == (64, 64)
    np.testing.assert_allclose(ours, reference, atol=TOLERANCE_DB, rtol=0)
    # the reference code's power_to_db(S ** 2) is far away: power is converted to dB once
    squared = librosa.power_to_db(librosa.db_to_power(reference) ** 2, top_db=80.0)
    assert np.abs(ours - squared).max() > 10


def test_matches_librosa_on_a_real_padded_8khz_digit(shared_data):
    wave = crop_or_pad(load_audio(shared_data / FSDD_FILE, 16000), 150_526)
    ours = LogMel()(wave).numpy()
    np.testing.assert_allclose(ours, librosa_log_mel(wave.numpy(), hop=2360), atol=TOLERANCE_DB, rtol=0)
    assert ours.min() == pytest.approx(ours.max() - 80.0)  # the zero padding sits on the 80 dB floor


def test_matches_librosa_at_224(shared_data):
    wave = crop_or_pad(load_audio(shared_data / LIBRI_FILE, 16000), 150_526, "center")
    ours = LogMel(size=224)(wave).numpy()
    np.testing.assert_allclose(ours, librosa_log_mel(wave.numpy(), hop=672, n_mels=224), atol=TOLERANCE_DB, rtol=0)


def test_top_db_floor_is_per_item_in_a_batch():
    torch.manual_seed(0)
    loud, quiet = torch.randn(150_526), 1e-3 * torch.randn(150_526)
    quiet[:50_000] = 0
    features = LogMel()
    batch = features(torch.stack([loud, quiet]))
    torch.testing.assert_close(batch[0], features(loud))
    torch.testing.assert_close(batch[1], features(quiet))


def test_cropping_whole_utterance_frames_equals_computing_on_the_waveform_crop(shared_data):
    """The exactness argument of the feature cache, on a real 14 s utterance."""
    features = LogMel()
    wave = load_audio(shared_data / LIBRI_FILE, 16000)
    whole = features.power_db(wave)  # [64, 1 + L // hop]
    assert whole.shape[-1] == 1 + wave.numel() // 2360 > 64
    # a crop at frame 0 is the spectrogram of the first 150,526 samples
    torch.testing.assert_close(whole[:, :64], features.power_db(wave[:150_526]), atol=TOLERANCE_DB, rtol=0)
    # a crop at frame k is the crop from sample k * hop, except frame 0, whose left half lies outside it
    k = 10
    direct = features.power_db(wave[k * 2360 : k * 2360 + 150_526])
    torch.testing.assert_close(whole[:, k + 1 : k + 64], direct[:, 1:], atol=TOLERANCE_DB, rtol=0)
