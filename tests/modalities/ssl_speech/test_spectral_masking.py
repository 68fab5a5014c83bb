from __future__ import annotations

import pytest
import torch

from ssl_speech.masking import freq_mask, gaussian_noise, mask_span, time_mask


def masked_band(mask: torch.Tensor) -> tuple[int, int]:
    """(start, width) of the single contiguous band of ``mask`` (1-D bool); (0, 0) if none."""
    where = torch.nonzero(mask).flatten()
    if where.numel() == 0:
        return 0, 0
    start, stop = int(where[0]), int(where[-1]) + 1
    assert bool(mask[start:stop].all()), "the masked cells are not contiguous"
    return start, stop - start


def test_span_widths_and_starts_stay_inside_and_cover_their_range():
    torch.manual_seed(0)
    spans = [mask_span(64, 10) for _ in range(3000)]
    assert {w for _, w in spans} == set(range(11))
    assert all(0 <= s and s + w <= 64 for s, w in spans)
    assert {s for s, w in spans if w == 10} == set(range(55))
    assert mask_span(5, 40)[1] <= 5


def test_frequency_mask_sets_one_band_of_channels_across_all_frames():
    torch.manual_seed(1)
    spec = torch.rand(64, 50) + 1
    for _ in range(60):
        out = freq_mask(spec, max_width=12, value=0.0)
        rows = (out == 0).all(dim=1)
        assert torch.equal(out == 0, rows[:, None].expand_as(out))  # whole channels, every frame
        start, width = masked_band(rows)
        assert width <= 12 and start + width <= 64
        assert torch.equal(out[~rows], spec[~rows])
    assert (spec > 0).all()  # the input is untouched


def test_time_mask_sets_one_band_of_frames_with_the_given_value():
    torch.manual_seed(2)
    spec = torch.rand(2, 64, 50)
    widths = set()
    for _ in range(150):
        out = time_mask(spec, max_width=7, value=-100.0)
        cols = (out[0] == -100.0).all(dim=0)
        start, width = masked_band(cols)
        widths.add(width)
        assert width <= 7 and start + width <= 50
        assert torch.equal(out[1][:, cols], torch.full_like(out[1][:, cols], -100.0))  # shared by leading dims
    assert widths == set(range(8))


def test_several_masks_and_in_place_masking():
    torch.manual_seed(3)
    spec = torch.ones(64, 64)
    out = time_mask(spec, max_width=5, num_masks=3, inplace=True)
    assert out is spec
    assert int((spec == 0).all(dim=0).sum()) <= 15


def test_masks_follow_the_torch_seed():
    spec = torch.rand(64, 64)
    torch.manual_seed(7)
    a = freq_mask(time_mask(spec, 20), 20)
    torch.manual_seed(7)
    assert torch.equal(a, freq_mask(time_mask(spec, 20), 20))


def test_gaussian_noise_is_scaled_to_the_data_std():
    torch.manual_seed(4)
    x = torch.zeros(200_000)
    assert gaussian_noise(x, 0.25, data_std=2.0).std().item() == pytest.approx(0.5, rel=0.02)
    assert gaussian_noise(x, 0.0) is x
    with pytest.raises(ValueError, match="scale"):
        gaussian_noise(x, -1.0)


def test_bad_widths_are_rejected():
    with pytest.raises(ValueError, match="max_width"):
        freq_mask(torch.zeros(4, 4), -1)
    with pytest.raises(ValueError, match="num_masks"):
        time_mask(torch.zeros(4, 4), 2, num_masks=-1)
