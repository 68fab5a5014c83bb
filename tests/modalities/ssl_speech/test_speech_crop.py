from __future__ import annotations

import pytest
import torch

from ssl_speech.crop import crop_offset, crop_or_pad


def test_short_signals_are_zero_padded_at_the_end():
    x = torch.arange(1, 6, dtype=torch.float32)
    out = crop_or_pad(x, 8, "random")
    assert out.tolist() == [1, 2, 3, 4, 5, 0, 0, 0]


def test_centre_and_start_crops():
    x = torch.arange(10)
    assert crop_or_pad(x, 4, "center").tolist() == [3, 4, 5, 6]
    assert crop_or_pad(x, 4, "start").tolist() == [0, 1, 2, 3]


def test_crops_along_another_axis():
    x = torch.arange(30).reshape(3, 10)
    assert crop_or_pad(x, 4, "center", dim=-1).shape == (3, 4)
    assert crop_or_pad(x, 5, "start", dim=0).shape == (5, 10)


def test_random_offsets_cover_every_start_and_follow_the_seed():
    torch.manual_seed(0)
    offsets = {crop_offset(10, 4, "random") for _ in range(500)}
    assert offsets == set(range(7))
    torch.manual_seed(3)
    first = [crop_offset(100, 10, "random") for _ in range(5)]
    torch.manual_seed(3)
    assert [crop_offset(100, 10, "random") for _ in range(5)] == first


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        crop_offset(10, 4, "middle")
    with pytest.raises(ValueError, match="length"):
        crop_or_pad(torch.zeros(3), 0)
