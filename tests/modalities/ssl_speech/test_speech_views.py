from __future__ import annotations

import pytest
import torch

from ssl_speech.librispeech import LibriSpeech
from ssl_speech.log_mel_frames import LogMelFrames
from ssl_speech.speech_views import LogMelViews


@pytest.fixture
def libri(shared_data, speech_cache) -> LibriSpeech:
    return LibriSpeech(root=str(shared_data / "librispeech-mini"), cache_dir=str(speech_cache))


def test_views_are_z_scored_1x64x64_crops(libri):
    views = LogMelViews()
    x, _ = libri[0]
    assert isinstance(x, LogMelFrames) and x.db.shape[0] == 64 and x.db.shape[1] >= 64
    for view in (views.train(x), views.eval(x)):
        assert view.shape == (1, 64, 64) and view.dtype == torch.float32
    # the statistics are those of the training split's evaluation views
    stacked = torch.stack([views.eval(libri[i][0]) for i in range(len(libri))])
    assert stacked.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert stacked.std().item() == pytest.approx(1.0, abs=1e-3)


def test_eval_is_the_deterministic_centre_crop(libri):
    views = LogMelViews()
    x, _ = libri[3]
    start = (x.db.shape[1] - 64) // 2
    expected = x.db[:, start : start + 64]
    expected = (torch.maximum(expected, expected.max() - 80.0) - libri.mean) / libri.std
    torch.testing.assert_close(views.eval(x)[0], expected)
    assert torch.equal(views.eval(x), views.eval(x))


def test_train_views_are_random_and_follow_the_seed(libri):
    views = LogMelViews(noise_std=0.25)
    x, _ = libri[5]
    torch.manual_seed(0)
    a, b = views.train(x), views.train(x)
    assert not torch.equal(a, b)
    torch.manual_seed(0)
    assert torch.equal(views.train(x), a)


def test_masks_before_the_log_sit_on_the_floor(libri):
    """Masked frames become zero power, so after the 80 dB floor they sit on the floor of the rest."""
    views = LogMelViews(time_mask_width=20, freq_mask_width=0, random_crop=False)
    x, _ = libri[7]
    crop = x.crop("center")
    widths = set()
    for seed in range(20):
        torch.manual_seed(seed)
        view = views.train(x)[0]
        masked = (view == view.min()).all(dim=0)  # frames whose 64 cells all sit on the floor
        where = torch.nonzero(masked).flatten()
        width = where.numel()
        widths.add(width)
        if width == 0:
            torch.testing.assert_close(view, views.eval(x)[0])
            continue
        assert width <= 20 and int(where[-1]) - int(where[0]) + 1 == width  # one contiguous band
        peak = crop[:, ~masked].max()
        expected = (torch.maximum(crop, peak - 80.0) - libri.mean) / libri.std
        torch.testing.assert_close(view[:, ~masked], expected[:, ~masked])
        torch.testing.assert_close(view[:, masked], torch.full((64, width), float((peak - 80.0 - libri.mean) / libri.std)))
    assert len(widths) > 3


def test_masks_after_the_log_are_zero(libri):
    views = LogMelViews(freq_mask_width=30, time_mask_width=0, mask_before_log=False, random_crop=False)
    x, _ = libri[7]
    clean = views.eval(x)[0]
    torch.manual_seed(2)
    for _ in range(10):
        view = views.train(x)[0]
        rows = (view == 0).all(dim=1)
        assert int(rows.sum()) <= 30
        assert torch.equal(view[~rows], clean[~rows])


def test_bad_parameters_and_inputs():
    with pytest.raises(ValueError, match="n_views"):
        LogMelViews(n_views=0)
    with pytest.raises(ValueError, match="time_mask_width"):
        LogMelViews(time_mask_width=-1)
    with pytest.raises(ValueError, match="noise_std"):
        LogMelViews(noise_std=-0.1)
    with pytest.raises(TypeError, match="LogMelFrames"):
        LogMelViews().train(torch.zeros(16000))
