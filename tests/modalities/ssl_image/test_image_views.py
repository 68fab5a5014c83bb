"""Image views: shapes, randomness, determinism, Lab, grey inputs, validation, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_image.image_views import CIFAR_MEAN, CIFAR_STD, ImageViews
from ssl_image.lab import LAB_MEAN, LAB_STD


@pytest.fixture
def image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))


def test_train_views_are_random_and_eval_is_deterministic(image):
    views = ImageViews(size=32)
    assert views.n_views == 2
    a, b = views.train(image), views.train(image)
    assert a.shape == b.shape == (3, 32, 32) and a.dtype == torch.float32
    assert not torch.equal(a, b)
    torch.testing.assert_close(views.eval(image), views.eval(image))
    assert views.eval(image).shape == (3, 32, 32)


def test_eval_is_resize_centre_crop_and_cifar_normalisation():
    flat = Image.new("RGB", (32, 32), (255, 128, 0))
    out = ImageViews().eval(flat)
    expected = (torch.tensor([255, 128, 0]) / 255.0 - torch.tensor(CIFAR_MEAN)) / torch.tensor(CIFAR_STD)
    torch.testing.assert_close(out[:, 16, 16], expected, atol=1e-4, rtol=0)


def test_eval_resize_then_crop(image):
    out = ImageViews(size=24, eval_resize=28).eval(image)
    assert out.shape == (3, 24, 24)


def test_grey_images_become_three_channels():
    grey = Image.fromarray(np.full((28, 28), 200, dtype=np.uint8), mode="L")
    views = ImageViews(size=28)
    assert views.train(grey).shape == (3, 28, 28)
    assert views.eval(grey).shape == (3, 28, 28)


def test_lab_views_use_cmc_normalisation():
    white = Image.new("RGB", (32, 32), (255, 255, 255))
    views = ImageViews(color_space="lab")
    assert views.mean == LAB_MEAN and views.std == LAB_STD
    out = views.eval(white)[:, 0, 0]
    expected = (torch.tensor([100.0, 0.0, 0.0]) - torch.tensor(LAB_MEAN)) / torch.tensor(LAB_STD)
    torch.testing.assert_close(out, expected, atol=1e-3, rtol=0)
    assert views.train(white).shape == (3, 32, 32)


def test_augment_none_and_crop_flip(image):
    none = ImageViews(augment="none")
    torch.testing.assert_close(none.train(image), none.eval(image))
    flat = Image.new("RGB", (32, 32), (10, 200, 30))
    crop_flip = ImageViews(augment="crop_flip")  # no colour change on a flat image
    torch.testing.assert_close(crop_flip.train(flat), crop_flip.eval(flat), atol=1e-4, rtol=0)


def test_colour_jitter_and_grayscale_change_a_flat_image():
    flat = Image.new("RGB", (32, 32), (10, 200, 30))
    views = ImageViews(jitter_prob=1.0, grayscale_prob=1.0)
    out = views.train(flat)
    assert torch.allclose(out[0] * CIFAR_STD[0] + CIFAR_MEAN[0], out[1] * CIFAR_STD[1] + CIFAR_MEAN[1], atol=1e-5)


def test_blur_and_tensor_input(image):
    views = ImageViews(size=32, blur_prob=1.0, n_views=3)
    assert views.n_views == 3
    tensor = torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8)
    assert views.train(tensor).shape == (3, 32, 32)
    assert "GaussianBlur" in repr(views)


def test_picklable_for_dataloader_workers(image):
    views = pickle.loads(pickle.dumps(ImageViews(color_space="lab", blur_prob=0.5)))
    assert views.train(image).shape == (3, 32, 32)


@pytest.mark.parametrize("kwargs, key", [
    ({"size": 0}, "size"), ({"n_views": 0}, "n_views"), ({"min_scale": 0.0}, "min_scale"),
    ({"jitter_prob": 1.5}, "jitter_prob"), ({"blur_sigma": (2.0, 1.0)}, "blur_sigma"),
    ({"jitter_strength": 3.0}, "jitter_strength"),
    ({"jitter": (0.4, 0.4, 0.4, 0.6)}, "jitter"), ({"eval_resize": 16}, "eval_resize"),
    ({"std": (1.0, 0.0, 1.0)}, "std"),
    ({"stats_from": "cifar10", "mean": (0.5, 0.5, 0.5)}, "stats_from"),
])
def test_out_of_range_params_name_the_param(kwargs, key):
    with pytest.raises(ValueError, match=f"^{key}"):
        ImageViews(**kwargs)
