"""RGB to Lab against skimage's published values."""

from __future__ import annotations

import pytest
import torch

from ssl_image.lab import LAB_MEAN, LAB_STD, RGBToLab, rgb_to_lab

# skimage.color.rgb2lab of pure colours (D65, 2 degrees), as printed in its documentation and tests.
KNOWN = [
    ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ((1.0, 0.0, 0.0), (53.2408, 80.0925, 67.2032)),
    ((0.0, 1.0, 0.0), (87.7347, -86.1827, 83.1793)),
    ((0.0, 0.0, 1.0), (32.2970, 79.1875, -107.8602)),
]


@pytest.mark.parametrize("rgb, lab", KNOWN)
def test_known_colours(rgb, lab):
    image = torch.tensor(rgb).view(3, 1, 1).expand(3, 2, 2)
    out = rgb_to_lab(image)
    assert out.shape == (3, 2, 2)
    torch.testing.assert_close(out[:, 0, 0], torch.tensor(lab), atol=0.01, rtol=0)


def test_batched_and_dtype_kept():
    x = torch.rand(4, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    out = RGBToLab()(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    # batched and single images may take different vectorised paths: equal to float32 rounding of values up to 100
    torch.testing.assert_close(out[1], rgb_to_lab(x[1]), atol=1e-4, rtol=1e-5)
    assert (out[:, 0] >= 0).all() and (out[:, 0] <= 100.001).all()


def test_needs_three_channels():
    with pytest.raises(ValueError, match="3 channels"):
        rgb_to_lab(torch.rand(1, 4, 4))


def test_cmc_normalisation_constants():
    assert LAB_MEAN == (50.0, 5.98, -6.69)
    assert LAB_STD == (50.0, 92.21, 101.17)
